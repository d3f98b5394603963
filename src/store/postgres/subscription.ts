// A live subscription on its own connection: LISTEN first, then read everything after the cursor,
// then wait for a commit notification (or the poll interval, for writers that do not notify).
// While that connection opens, it already catches up through the store's pool. A lost connection
// is reopened with backoff and reading resumes after the last delivered position, so a reconnect
// neither loses nor repeats an event.
import pg from 'pg';
import { Observable, type Subscriber } from 'rxjs';
import { UnavailableError } from '../../errors.js';
import type { RecordedEvent } from '../port.js';
import { isConnectionFailure, storeFailure, type PostgresSettings } from './connection.js';
import type { LedgerSql } from './schema.js';

export interface SubscriptionOptions {
  after: number;
  pollMs: number;
  /** Consecutive failed attempts tolerated before the subscription errors with UnavailableError. */
  maxFailures: number;
  /** First retry delay; doubles per consecutive failure up to 5 s. */
  backoffMs: number;
  pageSize: number;
  /** Reads on the subscription's own connection. */
  readPage: (client: pg.ClientBase, after: number, limit: number) => Promise<RecordedEvent[]>;
  /** Reads on the store's (warm) pool, used to catch up while the own connection is being opened. */
  readPooled: (after: number, limit: number) => Promise<RecordedEvent[]>;
}

const MAX_BACKOFF_MS = 5_000;

export function subscription(
  settings: PostgresSettings,
  sql: LedgerSql,
  options: SubscriptionOptions,
  register: (complete: () => void) => () => void,
): Observable<RecordedEvent> {
  return new Observable<RecordedEvent>((subscriber) => {
    const state = new Session(settings, sql, options, subscriber);
    const unregister = register(() => {
      state.stop();
      subscriber.complete();
    });
    void state.run();
    return () => {
      unregister();
      state.stop();
    };
  });
}

class Session {
  private cursor: number;
  private stopped = false;
  private client: pg.Client | undefined;
  private pending = true;
  private wake: (() => void) | undefined;
  private failures = 0;

  constructor(
    private readonly settings: PostgresSettings,
    private readonly sql: LedgerSql,
    private readonly options: SubscriptionOptions,
    private readonly subscriber: Subscriber<RecordedEvent>,
  ) {
    this.cursor = options.after;
  }

  stop(): void {
    this.stopped = true;
    this.signal();
    this.dropClient();
  }

  private signal(): void {
    this.pending = true;
    this.wake?.();
  }

  private dropClient(): void {
    const client = this.client;
    this.client = undefined;
    if (client) {
      client.removeAllListeners('notification');
      client.end().catch(() => undefined);
    }
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.settings.connectionString,
      application_name: 'runledger-subscriber',
      connectionTimeoutMillis: 10_000,
    });
    // A killed backend surfaces here (and as a failed query): wake the loop so it reconnects.
    client.on('error', () => {
      if (this.client === client) {
        this.dropClient();
        this.signal();
      }
    });
    client.on('notification', () => this.signal());
    await client.connect();
    // LISTEN before reading: a commit between the read and the wait still wakes us.
    await client.query(`LISTEN "${this.sql.channel}"`);
    return client;
  }

  async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.client) {
          const connecting = this.connect();
          connecting.catch(() => undefined); // awaited below; failures surface there
          try {
            // Catch up meanwhile: a new connection (fork, authentication) is the slowest step.
            await this.drain((after, limit) => this.options.readPooled(after, limit));
          } catch (err) {
            void connecting.then((c) => c.end()).catch(() => undefined);
            throw err;
          }
          const client = await connecting;
          if (this.stopped) {
            await client.end().catch(() => undefined);
            return;
          }
          this.client = client;
          this.pending = true;
        }
        if (this.pending) {
          this.pending = false;
          const client = this.client;
          await this.drain((after, limit) => this.options.readPage(client, after, limit));
          this.failures = 0;
          continue;
        }
        await this.idle();
      } catch (err) {
        this.dropClient();
        if (this.stopped) return;
        if (!isConnectionFailure(err)) {
          this.stopped = true;
          this.subscriber.error(storeFailure(err, this.settings));
          return;
        }
        this.failures += 1;
        if (this.failures >= this.options.maxFailures) {
          this.stopped = true;
          const failure = storeFailure(err, this.settings);
          this.subscriber.error(
            new UnavailableError(
              `subscription to PostgreSQL at ${this.settings.where} gave up after ${this.failures} failed attempts: ${(failure as Error).message}`,
            ),
          );
          return;
        }
        await this.sleep(Math.min(MAX_BACKOFF_MS, this.options.backoffMs * 2 ** (this.failures - 1)));
      }
    }
  }

  /** Delivers every committed-and-safe event after the cursor, a page at a time. */
  private async drain(read: (after: number, limit: number) => Promise<RecordedEvent[]>): Promise<void> {
    for (;;) {
      const page = await read(this.cursor, this.options.pageSize);
      for (const event of page) {
        if (this.stopped) return;
        this.cursor = event.position;
        this.subscriber.next(event);
      }
      if (page.length < this.options.pageSize || this.stopped) return;
    }
  }

  private idle(): Promise<void> {
    return this.sleep(this.options.pollMs, true);
  }

  private sleep(ms: number, wakeable = false): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(() => {
        if (wakeable) this.pending = true;
        done();
      }, ms);
      this.wake = wakeable ? done : () => (this.stopped ? done() : undefined);
      if (this.stopped || (wakeable && this.pending)) done();
    });
  }
}
