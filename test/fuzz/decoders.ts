// Every decoder of untrusted input, with its valid samples and the contract the fuzz suite holds
// it to: it either accepts the input or refuses it with a typed LedgerError (exit 2 for input,
// exit 1 for an altered bundle) whose message is one line — never another exception — and a
// refused input writes nothing. To fuzz a new decoder, add an entry to `decoders()`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { exportBundle, verifyBundle } from '../../src/bundle/bundle.js';
import { LedgerError } from '../../src/errors.js';
import { parsePolicy } from '../../src/gates/policy.js';
import { parsePlan } from '../../src/governance/plan-file.js';
import { decodeUtf8 } from '../../src/input/decode.js';
import { decodeMessage } from '../../src/kafka/ingest.js';
import { parseAppendInput } from '../../src/ledger/append-input.js';
import { buildApp } from '../../src/server/app.js';
import { openStore } from '../../src/store/open.js';
import type { EventStore } from '../../src/store/port.js';
import { prepareBatch } from '../../src/store/seal.js';
import { completedRun, openTestLedger, type TestLedger } from '../governance/fixture.js';
import { repoRoot } from '../support/cli.js';
import { JSON_FRAGMENTS, YAML_FRAGMENTS } from './corpus.js';

export interface Decoder {
  name: string;
  samples: Buffer[];
  fragments: readonly string[];
  /** Feeds one input; throws an AssertionError when the decoder breaks its contract. */
  check(input: Buffer): Promise<void>;
}

export interface DecoderSuite {
  decoders: Decoder[];
  close(): Promise<void>;
}

/** Runs `decode`; returns normally when it accepted, the typed error when it refused; fails on anything else. */
async function outcome(name: string, decode: () => unknown, exitCodes: readonly number[] = [2]): Promise<LedgerError | undefined> {
  try {
    await decode();
    return undefined;
  } catch (err) {
    if (!(err instanceof LedgerError)) throw new assert.AssertionError({ message: `${name}: not a typed error (would be "internal error"): ${(err as Error)?.stack ?? String(err)}` });
    assert.ok(exitCodes.includes(err.exitCode), `${name}: exit ${err.exitCode}, expected ${exitCodes.join(' or ')}: ${err.message}`);
    assert.ok(!err.message.includes('\n') && err.message.length > 0 && err.message.length < 4000, `${name}: not one sentence: ${JSON.stringify(err.message.slice(0, 300))}`);
    return err;
  }
}

async function eventCount(store: EventStore): Promise<number> {
  return (await store.treeState()).size + (await store.readAll({ after: -1 })).filter((e) => e.index === null).length;
}

const lines = (...events: unknown[]): Buffer => Buffer.from(events.map((e) => `${JSON.stringify(e)}\n`).join(''), 'utf8');
const example = (file: string): Buffer => readFileSync(join(repoRoot, 'docs', 'examples', file));

export async function decoderSuite(): Promise<DecoderSuite> {
  const store = await openStore('sqlite::memory:');
  await store.init();
  const ledger: TestLedger = await openTestLedger();
  await completedRun(ledger.store, 'r1');
  await ledger.checkpoint();
  const bundle = (await exportBundle(ledger.store, 'r1', [ledger.verifierKey])).bundle;
  const token = 'correct-horse-battery-staple';
  const { app }: { app: FastifyInstance } = await buildApp({ store: ledger.store, home: ledger.dir, token, log: () => undefined });

  const ndjson: Decoder = {
    name: 'NDJSON events (append)',
    samples: [
      lines({ stream: 's', type: 'custom.x', data: { a: 1, b: [true, null, 'é'] } }),
      lines({ stream: 'run-r9', type: 'AuditFinding', data: { runId: 'r9', severity: 'info', check: 'c', message: 'm', subject: null } }, { stream: 'run-r9', type: 'custom.note', data: {}, metadata: { actor: 'a' }, expectedRevision: 0 }),
      lines({ stream: 't', type: 'custom.y', id: '3f2a7c1e-8b4d-4e6f-9a0b-1c2d3e4f5a6b', schemaVersion: 2, data: { n: 1.5e-7 } }),
    ],
    fragments: JSON_FRAGMENTS,
    async check(input) {
      const before = await eventCount(store);
      const refused = await outcome(this.name, async () => {
        const parsed = parseAppendInput(input, 'fuzz.ndjson');
        prepareBatch(parsed.requests, { describe: (r, e) => `fuzz.ndjson line ${parsed.lines[r]![e]}` });
        await store.appendBatch(parsed.requests);
      });
      if (refused) assert.equal(await eventCount(store), before, `${this.name}: refused (${refused.message}) but wrote`);
    },
  };

  const plans: Decoder = {
    name: 'plans (YAML and JSON)',
    samples: [example('plan.yaml'), example('train.yaml'), Buffer.from(JSON.stringify({ governance: { name: 'p', approver: 'a', config: { lr: 0.1 } }, execution: { stages: [{ id: 'a' }] } }))],
    fragments: [...YAML_FRAGMENTS, ...JSON_FRAGMENTS],
    async check(input) {
      await outcome(this.name, () => parsePlan(decodeUtf8(input, 'fuzz.yaml'), 'fuzz.yaml'));
    },
  };

  const policies: Decoder = {
    name: 'gate policies (YAML and JSON)',
    samples: [example('policy.yaml'), Buffer.from(JSON.stringify({ version: 1, rules: [{ metric: 'm', direction: 'higher-is-better', relative: '5%' }] }))],
    fragments: [...YAML_FRAGMENTS, ...JSON_FRAGMENTS],
    async check(input) {
      await outcome(this.name, () => parsePolicy(decodeUtf8(input, 'fuzz.yaml'), 'fuzz.yaml'));
    },
  };

  const bundles: Decoder = {
    name: 'audit bundles',
    samples: [bundle],
    fragments: JSON_FRAGMENTS,
    async check(input) {
      // A refusal is exit 2 (not a bundle) or exit 1 (an altered one); a report must say what failed.
      await outcome(this.name, () => {
        const report = verifyBundle(input, [ledger.verifierKey]);
        if (!report.ok) assert.ok(report.firstDivergence?.message, 'a failed bundle names its first divergence');
      }, [1, 2]);
    },
  };

  const methods = ['POST', 'POST', 'GET', 'PUT', 'DELETE'] as const;
  const paths = ['/api/checkpoints', '/api/session', '/api/runs', '/api/runs/r1/telemetry?after=x', '/api/events', '/'];
  const types = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined];
  const http: Decoder = {
    name: 'HTTP requests and bodies',
    samples: [Buffer.from('{}'), Buffer.from('{"size":3}'), Buffer.from('[1,2,3]')],
    fragments: JSON_FRAGMENTS,
    async check(input) {
      // Method, path, content type and credentials are drawn from the input's own bytes: one arbitrary drives all.
      const pick = <T>(list: readonly T[], k: number): T => list[(input[k % Math.max(1, input.length)] ?? k) % list.length]!;
      const headers: Record<string, string> = { host: 'localhost' };
      const type = pick(types, 1);
      if (type !== undefined) headers['content-type'] = type;
      if (pick([true, false], 2)) headers.authorization = `Bearer ${token}`;
      const before = (await ledger.store.checkpoints()).length;
      const method = pick(methods, 0);
      const url = pick(paths, 3);
      if (url === '/api/events') return; // a stream that stays open; covered by the hardening suite
      const reply = await app.inject({ method, url, headers, payload: method === 'GET' ? undefined : input });
      assert.ok(reply.statusCode < 500, `${method} ${url} (${type}): HTTP ${reply.statusCode}: ${reply.body.slice(0, 300)}`);
      if (reply.statusCode >= 400) {
        if (url.startsWith('/api') || reply.headers['content-type']?.toString().includes('json')) {
          const body = JSON.parse(reply.body) as Record<string, unknown>;
          assert.deepEqual(Object.keys(body), ['error'], reply.body.slice(0, 300));
        }
        assert.equal((await ledger.store.checkpoints()).length, before, `${method} ${url}: refused but signed a checkpoint`);
      }
    },
  };

  const kafka: Decoder = {
    name: 'Kafka messages (ingest)',
    samples: [lines({ stream: 'k', type: 'custom.k', id: '3f2a7c1e-8b4d-4e6f-9a0b-1c2d3e4f5a6c', data: { v: 1 } }).subarray(0, -1), (await ledger.store.readStream('run-r1'))[0]!.canonical],
    fragments: JSON_FRAGMENTS,
    async check(input) {
      const before = await eventCount(store);
      let decoded: ReturnType<typeof decodeMessage> | undefined;
      await outcome(this.name, () => {
        decoded = decodeMessage({ key: null, value: input, headers: {} });
      }, []);
      if (decoded === undefined || typeof decoded === 'string') {
        assert.ok(decoded === undefined || !decoded.includes('\n'), `${this.name}: rejection is not one line: ${decoded}`);
        assert.equal(await eventCount(store), before);
        return;
      }
      const message = decoded;
      // What ingest then does: append, rejecting the message on an input error (src/kafka/ingest.ts).
      const refused = await outcome(this.name, () => store.append(message.stream, [message.event], { expectedRevision: message.expectedRevision }));
      if (refused) assert.equal(await eventCount(store), before, `${this.name}: refused but wrote`);
    },
  };

  return {
    decoders: [ndjson, plans, policies, bundles, http, kafka],
    async close() {
      await app.close();
      await store.close();
      await ledger.close();
    },
  };
}
