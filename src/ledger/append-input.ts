// NDJSON append input: one event per line, grouped into store requests without losing the line
// each event came from, so every error can name it. Bytes come in, and each line is checked
// against the input limits (size, UTF-8, event count) before it is parsed.
import { z } from 'zod';
import { InputError } from '../errors.js';
import { decodeUtf8, parseJson } from '../input/decode.js';
import { count, describeIssue, LIMITS, overLimit } from '../input/limits.js';
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
 * Parses NDJSON bytes. Consecutive lines of one stream share a request; a line that names an
 * expectedRevision starts a new request, so the expectation applies just before that event.
 */
export function parseAppendInput(input: Buffer | string, source: string): AppendInput {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (bytes.length > LIMITS.appendBytes) {
    throw overLimit(source, 'the input', count(bytes.length, 'bytes'), count(LIMITS.appendBytes, 'bytes'), { file: source });
  }
  const requests: AppendRequest[] = [];
  const lines: number[][] = [];
  let events = 0;
  for (let start = 0, lineNo = 1; start < bytes.length; lineNo++) {
    const newline = bytes.indexOf(0x0a, start);
    const end = newline < 0 ? bytes.length : newline;
    const row = bytes.subarray(start, end);
    start = end + 1;
    const where = `${source} line ${lineNo}`;
    if (row.length > LIMITS.lineBytes) throw overLimit(where, 'the line', count(row.length, 'bytes'), count(LIMITS.lineBytes, 'bytes'), { file: source, line: lineNo });
    const raw = decodeUtf8(row, source, lineNo).trim();
    if (raw === '') continue;
    if (events === LIMITS.eventsPerAppend) {
      throw overLimit(where, 'the event count', `more than ${count(LIMITS.eventsPerAppend, 'events')}`, `${count(LIMITS.eventsPerAppend, 'events')} per append`, { file: source, line: lineNo });
    }
    const value = parseJson(raw, where, { file: source, line: lineNo });
    const parsed = Line.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const { field, message } = describeIssue(issue);
      const what = issue.code === 'unrecognized_keys' ? message : `field ${field || '(line)'}: ${message}`;
      throw new InputError(`${where}: ${what}`, { file: source, line: lineNo, field: field || '(line)' });
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
