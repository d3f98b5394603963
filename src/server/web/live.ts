// One EventSource for the whole page: the server pushes a `change` per batch of ledger events
// (/api/events, Server-Sent Events); the page on screen decides what to refetch.
import type { ChangeMessage } from '../api-types.js';

type Listener = (change: ChangeMessage) => void;

/** A change that touches every run and topic (sent to pages after a reconnect). */
export const EVERYTHING: ChangeMessage = {
  position: -1,
  runs: ['*'],
  topics: ['runs', 'telemetry', 'checkpoints', 'comparisons', 'graph', 'gates', 'verification'],
};

export function touchesRun(change: ChangeMessage, runId: string): boolean {
  return change.runs.includes(runId) || change.runs.includes('*');
}

export class LiveChanges {
  private readonly listeners = new Set<Listener>();
  private source: EventSource | undefined;

  constructor(private readonly status: HTMLElement) {}

  connect(): void {
    this.source = new EventSource('/api/events');
    this.source.addEventListener('hello', () => {
      const reconnected = this.status.dataset.state === 'live-off';
      this.say('Live updates on', 'live-on');
      // Events may have come and gone while disconnected: everything on screen is stale.
      if (reconnected) for (const listener of this.listeners) listener(EVERYTHING);
    });
    this.source.addEventListener('change', (event) => {
      const change = JSON.parse((event as MessageEvent<string>).data) as ChangeMessage;
      this.status.title = `ledger position ${change.position}`;
      for (const listener of this.listeners) listener(change);
    });
    this.source.addEventListener('failure', (event) => this.say(`Live updates stopped: ${JSON.parse((event as MessageEvent<string>).data).error}`, 'live-off'));
    // EventSource reconnects by itself (retry: 2000); pages refetch on the next change.
    this.source.addEventListener('error', () => this.say('Live: reconnecting…', 'live-off'));
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private say(text: string, state: string): void {
    // The status region is aria-live: it speaks only when the connection state changes.
    if (this.status.dataset.state !== state) {
      this.status.dataset.state = state;
      this.status.textContent = text;
    }
  }
}
