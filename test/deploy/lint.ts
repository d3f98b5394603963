// Static checks of Dockerfile and docker-compose.yml, for a machine with no container engine: each
// returns the problems it finds (empty = clean), so tests can show every rule catching a bad file.
import { parse as parseYaml } from 'yaml';

// ---- Dockerfile -------------------------------------------------------------------------------

export interface DockerInstruction {
  line: number;
  keyword: string;
  args: string;
}

export interface DockerStage {
  from: string;
  name?: string;
  line: number;
  instructions: DockerInstruction[];
}

/** Instructions with continuations joined and comments dropped, grouped by FROM. */
export function dockerStages(text: string): DockerStage[] {
  const stages: DockerStage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i += 1;
      const next = lines[i]!;
      if (/^\s*#/.test(next)) continue;
      line = `${line.replace(/\\\s*$/, '')} ${next.trim()}`;
    }
    const match = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const instruction = { line: start + 1, keyword: match[1]!.toUpperCase(), args: match[2]!.trim() };
    if (instruction.keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(instruction.args)!;
      stages.push({ from: from[1]!, name: from[2], line: instruction.line, instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1]!.instructions.push(instruction);
    }
  }
  return stages;
}

/** True for an image reference fixed to a release: a digest, or a tag that is not "latest" and names a version. */
export function pinnedImage(ref: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(ref)) return true;
  const tag = /:([^/:]+)$/.exec(ref)?.[1];
  return tag !== undefined && tag !== 'latest' && /\d/.test(tag);
}

const PIPE_TO_SHELL = /\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da)?sh\b/;

export function lintDockerfile(text: string): string[] {
  const problems: string[] = [];
  const stages = dockerStages(text);
  if (stages.length < 2) problems.push(`multi-stage build expected: ${stages.length} FROM found`);
  const names = new Set<string>();
  for (const stage of stages) {
    if (!names.has(stage.from) && !pinnedImage(stage.from)) problems.push(`line ${stage.line}: base image ${stage.from} is not pinned to a version tag or digest`);
    if (stage.name) names.add(stage.name);
    for (const { line, keyword, args } of stage.instructions) {
      if (keyword === 'RUN' && PIPE_TO_SHELL.test(args)) problems.push(`line ${line}: downloads a script into a shell (${args.slice(0, 60)})`);
      if (keyword === 'ADD' && /\bhttps?:\/\//.test(args)) problems.push(`line ${line}: ADD fetches a URL; fetch in a RUN with a checksum, or COPY`);
      if (keyword === 'RUN' && /\bnpm (install|i)\b/.test(args)) problems.push(`line ${line}: npm install ignores the lockfile; use npm ci`);
      const from = /--from=(\S+)/.exec(args)?.[1];
      if (keyword === 'COPY' && from && !names.has(from)) problems.push(`line ${line}: COPY --from=${from} names no earlier stage`);
    }
  }
  const last = stages[stages.length - 1];
  if (last) {
    const users = last.instructions.filter((i) => i.keyword === 'USER');
    const user = users[users.length - 1];
    if (!user) problems.push('the final stage sets no USER: it would run as root');
    else if (/^(root|0)(:|$)/.test(user.args)) problems.push(`line ${user.line}: the final stage runs as root (USER ${user.args})`);
    if (last.instructions.some((i) => i.keyword === 'RUN' && /\b(apt-get|apk|yum|dnf)\b.*\binstall\b/.test(i.args))) {
      problems.push('the final stage installs packages: toolchains belong in the build stage');
    }
    for (const keyword of ['ENTRYPOINT', 'CMD']) {
      const found = last.instructions.filter((i) => i.keyword === keyword).pop();
      if (found && !found.args.startsWith('[')) problems.push(`line ${found.line}: ${keyword} in shell form; use the exec (JSON array) form so signals reach the process`);
    }
    if (!last.instructions.some((i) => i.keyword === 'ENTRYPOINT' || i.keyword === 'CMD')) problems.push('the final stage has no ENTRYPOINT or CMD');
  }
  return problems;
}

// ---- docker-compose.yml -----------------------------------------------------------------------

export type ComposeFile = {
  services?: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, { internal?: boolean } | null>;
};

export type ComposeService = {
  image?: string;
  build?: string | { context?: string };
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | { host_ip?: string })[];
  volumes?: (string | { type?: string; source?: string })[];
  networks?: string[] | Record<string, unknown>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: string[] | Record<string, { condition?: string }>;
  restart?: string;
  profiles?: string[];
};

/** YAML with merge keys (<<: *anchor), as Compose reads it; duplicate keys are errors. */
export function parseCompose(text: string): ComposeFile {
  return parseYaml(text, { merge: true, uniqueKeys: true }) as ComposeFile;
}

/** A service that runs once and exits (init steps, ad-hoc tools): no healthcheck expected. */
export function oneShot(service: ComposeService): boolean {
  return service.restart === 'no' || (service.profiles?.length ?? 0) > 0;
}

function networkNames(service: ComposeService): string[] {
  if (!service.networks) return ['default'];
  return Array.isArray(service.networks) ? service.networks : Object.keys(service.networks);
}

export function lintCompose(file: ComposeFile): string[] {
  const problems: string[] = [];
  const services = file.services ?? {};
  const declaredVolumes = new Set(Object.keys(file.volumes ?? {}));
  const usedVolumes = new Set<string>();
  for (const [name, service] of Object.entries(services)) {
    const at = `service ${name}`;
    if (service.build === undefined) {
      if (!service.image) problems.push(`${at}: no image and no build`);
      else if (!pinnedImage(service.image)) problems.push(`${at}: image ${service.image} is not pinned to a version tag or digest`);
    }
    if (!oneShot(service) && (!service.healthcheck || service.healthcheck.disable)) problems.push(`${at}: no healthcheck`);
    for (const port of service.ports ?? []) {
      const hostIp = typeof port === 'string' ? (port.split(':').length === 3 ? port.split(':')[0] : undefined) : port.host_ip;
      if (hostIp !== '127.0.0.1') problems.push(`${at}: port ${JSON.stringify(port)} is published beyond the host's loopback`);
    }
    for (const volume of service.volumes ?? []) {
      const source = typeof volume === 'string' ? volume.split(':')[0]! : (volume.source ?? '');
      if (/^[./~]/.test(source)) problems.push(`${at}: bind mount ${source}; keep state in named volumes`);
      else if (!declaredVolumes.has(source)) problems.push(`${at}: volume ${source} is not declared under volumes:`);
      else usedVolumes.add(source);
    }
    const depends: Record<string, { condition?: string }> = Array.isArray(service.depends_on)
      ? Object.fromEntries(service.depends_on.map((d) => [d, {}]))
      : (service.depends_on ?? {});
    for (const [target, { condition }] of Object.entries(depends)) {
      const other = services[target];
      if (!other) problems.push(`${at}: depends on ${target}, which is not a service`);
      else if (condition === 'service_healthy' && !other.healthcheck) problems.push(`${at}: waits for ${target} to be healthy, but it has no healthcheck`);
      else if (condition === 'service_completed_successfully' && !oneShot(other)) problems.push(`${at}: waits for ${target} to complete, but it restarts`);
    }
    const environment = Array.isArray(service.environment) ? {} : (service.environment ?? {});
    for (const [key, value] of Object.entries(environment)) {
      if (/TOKEN|SECRET|PRIVATE_KEY/.test(key) && value !== null) problems.push(`${at}: ${key} has a value in the file; leave it empty so it comes from the environment`);
    }
    if (!(service.ports?.length)) {
      for (const network of networkNames(service)) {
        if (!file.networks?.[network]?.internal) problems.push(`${at}: publishes no port yet joins non-internal network ${network} (it could reach the outside)`);
      }
    }
  }
  for (const volume of declaredVolumes) if (!usedVolumes.has(volume)) problems.push(`volume ${volume} is declared but no service uses it`);
  return problems;
}

/** The `runledger …` argument lists the compose file runs: commands of services built from the Dockerfile, and their healthchecks. */
export function runledgerCommands(file: ComposeFile, entrypoint = '/app/bin/runledger.js'): { where: string; args: string[] }[] {
  const out: { where: string; args: string[] }[] = [];
  for (const [name, service] of Object.entries(file.services ?? {})) {
    if (service.build === undefined) continue;
    if (Array.isArray(service.command)) out.push({ where: `service ${name} command`, args: service.command });
    const test = service.healthcheck?.test;
    if (Array.isArray(test)) {
      const i = test.indexOf(entrypoint);
      if (i >= 0) out.push({ where: `service ${name} healthcheck`, args: test.slice(i + 1) });
    }
  }
  return out;
}
