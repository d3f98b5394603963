// Terminal output: colour and status symbols on a terminal, plain text in pipes, files and CI logs.
// The decision follows the conventions most CLIs share (Node's own tty.getColorDepth included):
// FORCE_COLOR forces it on (FORCE_COLOR=0 or false forces it off), a non-empty NO_COLOR
// (https://no-color.org) turns it off, otherwise only a TTY whose TERM is not "dumb" gets it.

export type Tone = 'ok' | 'warn' | 'fail' | 'info';

export interface Style {
  /** Whether escapes and symbols are written at all. */
  readonly enabled: boolean;
  /** A status word such as OK, PASS, FAILED: coloured and led by its symbol on a terminal, unchanged otherwise. */
  status(tone: Tone, word: string): string;
  /** The tone's symbol and a space on a terminal ("✔ "), nothing otherwise: for cells padded before colouring. */
  symbol(tone: Tone): string;
  /** Text in the tone's colour, without a symbol. */
  tone(tone: Tone, text: string): string;
  bold(text: string): string;
  dim(text: string): string;
}

const COLOUR: Record<Tone, number> = { ok: 32, warn: 33, fail: 31, info: 36 };
const SYMBOL: Record<Tone, string> = { ok: '✔', warn: '▲', fail: '✖', info: 'ℹ' };

/** Verdict words used across commands, mapped to their tone. */
export const VERDICT_TONE = { pass: 'ok', warn: 'warn', fail: 'fail' } as const satisfies Record<string, Tone>;

export function colourEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !['0', 'false'].includes(force.toLowerCase());
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Style {
  return makeStyle(colourEnabled(stream, env));
}

export function makeStyle(enabled: boolean): Style {
  const sgr = (code: number, text: string): string => (enabled ? `\u001b[${code}m${text}\u001b[0m` : text);
  return {
    enabled,
    status: (tone, word) => (enabled ? sgr(COLOUR[tone], `${SYMBOL[tone]} ${word}`) : word),
    symbol: (tone) => (enabled ? `${SYMBOL[tone]} ` : ''),
    tone: (tone, text) => sgr(COLOUR[tone], text),
    bold: (text) => sgr(1, text),
    dim: (text) => sgr(2, text),
  };
}

/** "1 event", "2 events"; `plural` for nouns that do not take an s. */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
