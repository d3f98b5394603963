// subscribe() on KurrentDB: catch up by paged `$all` reads, then go live on a catch-up subscription
// to `$all` filtered to the ledger's event streams, resuming from the last delivered position.
// The subscription is not trusted to make progress on its own (docs/stores.md, "KurrentDB", known
// `$all` subscription issues): a probe reads `$all` after the last delivered position every probe
// interval, and when an event is there on two probes in a row that the subscription has not
// delivered, the subscription is dropped and reading resumes by catching up again. Errors and a
// server-ended subscription resubscribe with backoff. Each event is delivered once, in position
// order: anything at or below the last delivered position is dropped, whichever path it came by.
import { Observable, type Subscriber } from 'rxjs';
import { UnavailableError } from '../../errors.js';
import type { RecordedEvent } from '../port.js';

export interface LiveHandlers {
  event(event: RecordedEvent): void;
  /** The subscription has delivered everything recorded so far: it is live. */
  caughtUp(): void;
  error(err: unknown): void;
  end(): void;
}

export interface LiveSource {
  /** Ledger events with position > after, in `$all` order, at most `limit`. */
  readPage(after: number, limit: number): Promise<RecordedEvent[]>;
  /** Opens a catch-up subscription delivering ledger events with position > after. */
  open(after: number, handlers: LiveHandlers): { close(): Promise<void> };
  /** True when an error may pass (connection, leader change): resubscribe instead of failing. */
  transient(err: unknown): boolean;
  /** The typed error a subscriber sees. */
  failure(err: unknown): Error;
  where: string;
}

export interface LiveOptions {
  after: number;
  /** Probe interval of the stall check, ms. */
  probeMs: number;
  pageSize: number;
  maxFailures: number;
  backoffMs: number;
  /** Called when the subscription reports it is live (tests, diagnostics). */
  onCaughtUp?: () => void;
}

const MAX_BACKOFF_MS = 5_000;

export function liveSubscription(source: LiveSource, options: LiveOptions, register: (complete: () => void) => () => void): Observable<RecordedEvent> {
  return new Observable<RecordedEvent>((subscriber) => {
    const session = new Session(source, options, subscriber);
    const unregister = register(() => {
      session.stop();
      subscriber.complete();
    });
    void session.run();
    return () => {
      unregister();
      session.stop();
    };
  });
}

class Session {
  private cursor: number;
  private stopped = false;
  private failures = 0;
  private interrupt: (() => void) | undefined;

  constructor(
    private readonly source: LiveSource,
    private readonly options: LiveOptions,
    private readonly subscriber: Subscriber<RecordedEvent>,
  ) {
    this.cursor = options.after;
  }

  stop(): void {
    this.stopped = true;
    this.interrupt?.();
  }

  private deliver(event: RecordedEvent): void {
    if (this.stopped || event.position <= this.cursor) return;
    this.cursor = event.position;
    this.subscriber.next(event);
  }

  async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.drain();
        if (this.stopped) return;
        await this.live();
      } catch (err) {
        if (this.stopped) return;
        if (!this.source.transient(err)) {
          this.stopped = true;
          this.subscriber.error(this.source.failure(err));
          return;
        }
        this.failures += 1;
        if (this.failures >= this.options.maxFailures) {
          this.stopped = true;
          this.subscriber.error(
            new UnavailableError(`subscription to KurrentDB at ${this.source.where} gave up after ${this.failures} failed attempts: ${this.source.failure(err).message}`),
          );
          return;
        }
        await this.sleep(Math.min(MAX_BACKOFF_MS, this.options.backoffMs * 2 ** (this.failures - 1)));
      }
    }
  }

  /** Catch-up by reads: every event after the cursor, a page at a time. */
  private async drain(): Promise<void> {
    for (;;) {
      const page = await this.source.readPage(this.cursor, this.options.pageSize);
      for (const event of page) this.deliver(event);
      // Until an empty page: a filtered read may return fewer than asked before the end.
      if (page.length === 0 || this.stopped) return;
    }
  }

  /** Live until the subscription fails (throws), stalls or is stopped (returns). */
  private live(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let done = false;
      let strikes = 0;
      let struckAt = this.cursor;
      let probing = false;
      // Declared before the source opens: it may report an error while still being opened.
      const opened: { feed?: { close(): Promise<void> }; timer?: NodeJS.Timeout } = {};
      const finish = (err?: unknown): void => {
        if (done) return;
        done = true;
        clearInterval(opened.timer);
        this.interrupt = undefined;
        void opened.feed?.close().catch(() => undefined);
        if (err === undefined) resolve();
        else reject(err);
      };
      opened.feed = this.source.open(this.cursor, {
        event: (event) => {
          if (done) return;
          this.failures = 0;
          this.deliver(event);
        },
        caughtUp: () => {
          if (done) return;
          this.failures = 0;
          this.options.onCaughtUp?.();
        },
        error: (err) => finish(err ?? new UnavailableError(`subscription to KurrentDB at ${this.source.where} failed`)),
        end: () => finish(new UnavailableError(`KurrentDB at ${this.source.where} ended the $all subscription`)),
      });
      if (done) {
        void opened.feed.close().catch(() => undefined);
        return;
      }
      opened.timer = setInterval(() => {
        if (probing || done) return;
        probing = true;
        const at = this.cursor;
        this.source
          .readPage(at, 1)
          .then((page) => {
            const waiting = page.length > 0 && page[0]!.position > this.cursor;
            if (!waiting || at !== struckAt) strikes = 0;
            if (waiting) {
              strikes += 1;
              struckAt = at;
            }
            // Two probes in a row found an event the subscription has not delivered: it stalled.
            if (strikes >= 2) finish();
          })
          .catch((err: unknown) => finish(err))
          .finally(() => (probing = false));
      }, this.options.probeMs);
      this.interrupt = () => finish();
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.interrupt = done;
    });
  }
}
