// NDJSON append input: one event per line, grouped into store requests without losing the line
// each event came from, so every error can name it.
import { z } from 'zod';
import { InputError } from '../errors.js';
import type { AppendRequest } from '../store/port.js';

const Line = z
  .object({
    stream: z.string(),
    type: z.string(),
    data: z.unknown(),
    id: z.string().optional(),
    schemaVersion: z.number().optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    expectedRevision: z.union([z.string(), z.number()]).optional(),
  })
  .strict();

export interface AppendInput {
  requests: AppendRequest[];
  /** lines[r][e] = 1-based input line of event e of request r. */
  lines: number[][];
  events: number;
}

/**
 * Parses NDJSON. Consecutive lines of one stream share a request; a line that names an
 * expectedRevision starts a new request, so the expectation applies just before that event.
 */
export function parseAppendInput(text: string, source: string): AppendInput {
  const requests: AppendRequest[] = [];
  const lines: number[][] = [];
  let events = 0;
  const rows = text.split('\n');
  for (let i = 0; i < rows.length; i++) {
    const raw = rows[i]!.trim();
    if (raw === '') continue;
    const lineNo = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new InputError(`${source} line ${lineNo}: not valid JSON (${(err as Error).message})`, { file: source, line: lineNo });
    }
    const parsed = Line.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.map(String).join('.') || (issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '(line)');
      const what = issue.code === 'unrecognized_keys' ? `unknown field ${field}` : `field ${field}: ${issue.message}`;
      throw new InputError(`${source} line ${lineNo}: ${what}`, { file: source, line: lineNo, field });
    }
    const { stream, expectedRevision, ...event } = parsed.data;
    const last = requests[requests.length - 1];
    if (last && last.stream === stream && expectedRevision === undefined) {
      last.events.push(event as AppendRequest['events'][number]);
      lines[lines.length - 1]!.push(lineNo);
    } else {
      requests.push({
        stream,
        events: [event as AppendRequest['events'][number]],
        ...(expectedRevision !== undefined ? { expectedRevision: expectedRevision as AppendRequest['expectedRevision'] } : {}),
      });
      lines.push([lineNo]);
    }
    events++;
  }
  if (events === 0) throw new InputError(`${source}: no events (expected one JSON object per line)`, { file: source });
  return { requests, lines, events };
}
