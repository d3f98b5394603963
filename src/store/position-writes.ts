// Named consumer positions on a server store: one consumer's writes land in call order (two in
// flight on a pool or a client could otherwise complete out of order and leave an older position
// stored — a relay would then redeliver), and a read waits for the writes this process issued.
import { InputError } from '../errors.js';

export class PositionWrites {
  private readonly pending = new Map<string, Promise<void>>();

  /** Resolves once every write issued for `consumer` so far has settled (read-your-writes). */
  async settled(consumer: string): Promise<void> {
    await this.pending.get(consumer)?.catch(() => undefined);
  }

  /** Runs `write` after the consumer's previous writes; rejects a position that is not an integer >= -1. */
  async write(consumer: string, position: number, write: () => Promise<unknown>): Promise<void> {
    if (!Number.isSafeInteger(position) || position < -1) {
      throw new InputError(`position of consumer "${consumer}" must be an integer >= -1, got ${position}`, { field: 'position' });
    }
    const previous = this.pending.get(consumer) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(write)
      .then(() => undefined);
    this.pending.set(consumer, next);
    try {
      await next;
    } finally {
      if (this.pending.get(consumer) === next) this.pending.delete(consumer);
    }
  }

  /** Waits for every write already issued (often fire-and-forget from a subscriber) before a close. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.pending.values()]);
  }
}
