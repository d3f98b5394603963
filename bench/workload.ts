// The rows the store benchmarks append: telemetry-like events, the typical shape a training run records.
// No ids: the ledger generates them, as it does for workers and the CLI (UUIDv7, src/store/event-id.ts).
import type { ProposedEvent } from '../events/envelope.js';

export function proposedEvents(count: number): ProposedEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    type: 'custom.bench.sample',
    data: { step: i, epoch: Math.floor(i / 500), loss: 1 / (i + 1), accuracy: (i % 1000) / 1000, phase: i % 2 ? 'train' : 'eval' },
    metadata: { actor: 'bench', correlationId: 'bench-run' },
  }));
}
