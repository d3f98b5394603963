// The fuzz suite (issue 17): every decoder of untrusted input against the hostile corpus, seeded
// and time-bounded. RUNLEDGER_FUZZ_SEED and RUNLEDGER_FUZZ_RUNS reproduce or deepen a run; a
// failure prints the seed and the shrunk counterexample.
import fc from 'fast-check';
import { hostileInputs } from './corpus.js';
import { decoderSuite, type DecoderSuite } from './decoders.js';

const SEED = Number(process.env.RUNLEDGER_FUZZ_SEED ?? 20261123);
const RUNS = Number(process.env.RUNLEDGER_FUZZ_RUNS ?? 120);
/** Each decoder stops after this long, whatever RUNS says, so `npm test` stays fast. */
const TIME_LIMIT_MS = Number(process.env.RUNLEDGER_FUZZ_MS ?? 5000);

describe('fuzzing every decoder (seeded, time-bounded)', function () {
  this.timeout(TIME_LIMIT_MS * 3 + 30_000);
  let suite: DecoderSuite | undefined;
  before(async function () {
    suite = await decoderSuite();
  });
  after(async function () {
    await suite?.close();
  });

  // The decoder list is built with its stores in `before`; the names are known up front.
  const names = ['NDJSON events (append)', 'plans (YAML and JSON)', 'gate policies (YAML and JSON)', 'audit bundles', 'HTTP requests and bodies', 'Kafka messages (ingest)'];
  names.forEach((name, i) => {
    it(`${name}: accepts or refuses with a typed one-sentence error, and a refusal writes nothing`, async function () {
      const decoder = suite!.decoders.find((d) => d.name === name)!;
      try {
        await fc.assert(
          fc.asyncProperty(hostileInputs(decoder), (input) => decoder.check(input)),
          { seed: SEED + i, numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false },
        );
      } catch (err) {
        // Counterexamples can be megabytes: keep the seed and path (enough to replay it) and the cause.
        const text = String((err as Error).message);
        const cause = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : '';
        throw new Error(`${text.slice(0, 1500)}${text.length > 1500 ? ' …' : ''}\ncause: ${cause.slice(0, 1500)}`);
      }
    });
  });

  it('lists every decoder it fuzzes', function () {
    const listed = suite!.decoders.map((d) => d.name).sort();
    if (JSON.stringify(listed) !== JSON.stringify([...names].sort())) throw new Error(`decoders.ts lists ${listed.join(', ')}; add new ones to this test's names`);
  });
});
