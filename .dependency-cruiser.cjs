// The layering rule `npm run lint` enforces (dependency-cruiser). Arrows run from shell to core:
//   events/, src/integrity/  — what happened and why it can be trusted: depend on nothing of ours above them
//   src/store/…, src/governance, src/replay, src/ledger, src/bundle, src/gates, projections — the core
//   workers/, src/kafka, src/server, src/cli — shells over the core (the CLI may use every shell)
//   bench/, test/, infra/ — harnesses: nothing shipped imports them
const SHELLS = '^(workers|src/(cli|server|kafka))/';
const HARNESS = '^(bench|test|infra)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes two modules one; break it by moving the shared part down.',
      from: { path: '^(src|events|projections|workers)/' },
      to: { circular: true },
    },
    {
      name: 'shipped-code-never-imports-harnesses',
      severity: 'error',
      from: { pathNot: HARNESS },
      to: { path: HARNESS },
    },
    {
      name: 'core-never-imports-shells',
      severity: 'error',
      comment: 'The CLI, server, Kafka and workers are shells over the core; the core does not know them.',
      from: { path: '^(events|projections|src)/', pathNot: SHELLS },
      to: { path: SHELLS },
    },
    {
      name: 'shells-are-independent',
      severity: 'error',
      comment: 'Only the CLI composes shells; workers, the server and Kafka share code through the core.',
      from: { path: '^(workers|src/(server|kafka))/' },
      to: { path: SHELLS, pathNot: '^$1' },
    },
    {
      name: 'catalog-and-integrity-are-the-base',
      severity: 'error',
      comment: 'Event schemas and integrity primitives depend only on each other, src/errors.ts and the limits policy (src/input/limits.ts, itself a leaf).',
      from: { path: '^(events|src/integrity)/' },
      to: { path: '^(src|projections|workers)/', pathNot: '^src/(integrity/|errors\\.ts$|input/limits\\.ts$)' },
    },
    {
      name: 'projections-never-import-stores',
      severity: 'error',
      comment: 'Projections are pure reducers over events; they see the port, never an adapter.',
      from: { path: '^projections/' },
      to: { path: '^src/store/(sqlite|postgres|kurrentdb)/' },
    },
    {
      name: 'drivers-only-in-their-adapter',
      severity: 'error',
      comment: 'Nothing outside src/store/<adapter>/ imports a database driver.',
      from: { path: '^(src|events|projections|workers)/', pathNot: '^src/store/(sqlite|postgres|kurrentdb)/' },
      to: { path: 'node_modules/(better-sqlite3|pg|@kurrent/kurrentdb-client)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^dist/' },
  },
};
