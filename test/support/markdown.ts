// Fenced code blocks of a Markdown file, with where they start: what the README and docs/ci.md
// tests run.

export interface CodeBlock {
  /** The info string's first word: sh, console, yaml… */
  lang: string;
  /** 1-based line of the block's first content line in the Markdown file. */
  line: number;
  text: string;
}

export function codeBlocks(markdown: string): CodeBlock[] {
  return [...markdown.matchAll(/^```(\w*)[^\n]*\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1]!,
    line: markdown.slice(0, m.index).split('\n').length + 1,
    text: m[2]!,
  }));
}
