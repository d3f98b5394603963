// YAML (and JSON, a YAML 1.2 subset) in a safe, limited mode for plans and policies: one YAML 1.2
// document of the core schema, no tags beyond the core ones (no `!custom`, `!!python/object`,
// `!!binary`, `!!timestamp`, `!!set`), bounded alias expansion, bounded nesting checked while the
// text is still being parsed, and a value canonicalize accepts. Every refusal is an InputError
// naming the file and line and citing the limit (docs/limits.md).
import { Composer, isAlias, isNode, isPair, isScalar, Lexer, LineCounter, Parser, visit, type Document, type Node } from 'yaml';
import { InputError } from '../errors.js';
import { canonicalize, CanonicalizationError } from '../integrity/canonical.js';
import { printable, protoMember } from './decode.js';
import { count, fieldPath, LIMITS, overLimit } from './limits.js';

/** The core schema's tags (YAML 1.2 §10.3): anything else could build a value that is not JSON. */
const CORE_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));

export interface ParsedYaml {
  /** The plain JSON value of the document. */
  value: unknown;
  /** The document, for mapping a field back to its line. */
  doc: Document;
  lineCounter: LineCounter;
}

export interface YamlOptions {
  /** The file errors name (also their `location.file`). */
  file: string;
  /** How errors name a place, e.g. `(line) => `${file}:${line}`` or `${file} line ${line}`. */
  at: (line?: number) => string;
  /** What the document is, for messages: "plan", "policy". */
  what: string;
}

/** Parses one YAML 1.2 document under the input limits; see the file comment. */
export function parseYaml(text: string, options: YamlOptions): ParsedYaml {
  const { what, file } = options;
  const refuse = (message: string, line?: number, field?: string): InputError =>
    new InputError(`${options.at(line)}: ${message}`, { file, ...(line !== undefined ? { line } : {}), ...(field !== undefined ? { field } : {}) });
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > LIMITS.documentBytes) throw overLimit(options.at(), `the ${what}`, count(bytes, 'bytes'), count(LIMITS.documentBytes, 'bytes'), { file });

  // Lexing and parsing to a concrete syntax tree are iterative in `yaml`; composing is recursive.
  // So nesting is bounded here, on the parser's stack, before anything recursive runs.
  const lineCounter = new LineCounter();
  const parser = new Parser(lineCounter.addNewLine);
  const tokens = [];
  const guard = 2 * LIMITS.depth + 4;
  lineCounter.addNewLine(0); // as Parser.parse does: line 1 starts at offset 0
  for (const lexeme of new Lexer().lex(text)) {
    for (const token of parser.next(lexeme)) tokens.push(token);
    if (parser.stack.length > guard) {
      throw refuse(`the ${what} nests deeper than the limit of ${LIMITS.depth} levels (docs/limits.md)`, lineCounter.linePos(parser.offset).line);
    }
  }
  for (const token of parser.end()) tokens.push(token);

  const docs = [...new Composer({ version: '1.2', schema: 'core', uniqueKeys: true, strict: true, prettyErrors: false }).compose(tokens, true, text.length)];
  if (docs.length !== 1) {
    const second = docs[1]?.range[0] ?? 0;
    throw refuse(`a ${what} is one YAML document, this text holds ${docs.length}`, lineCounter.linePos(second).line);
  }
  const doc = docs[0]!;
  const line = (offset: number | undefined): number => lineCounter.linePos(offset ?? 0).line;
  const syntax = doc.errors[0];
  if (syntax) throw refuse(printable(firstLine(syntax.message)), line(syntax.pos[0]));
  if (doc.directives.yaml.explicit && doc.directives.yaml.version !== '1.2') {
    throw refuse(`%YAML ${doc.directives.yaml.version} documents are refused; runledger reads YAML 1.2 (core schema) only`, 1);
  }
  // Composing is recursive, but the nesting is bounded above.
  let tagged: Node | undefined;
  let complexKey: Node | undefined;
  visit(doc, (_key, node) => {
    if (isNode(node) && !isAlias(node) && node.tag !== undefined && !CORE_TAGS.has(node.tag)) {
      tagged = node;
      return visit.BREAK;
    }
    // JSON member names are strings: `? [a, b]` or `{x: 1}: v` would be stringified behind the author's back.
    if (isPair(node) && isNode(node.key) && !isScalar(node.key)) {
      complexKey = node.key;
      return visit.BREAK;
    }
    return undefined;
  });
  if (tagged) {
    const tag = tagged.tag!.replace(/^tag:yaml\.org,2002:/, '!!');
    throw refuse(`the YAML tag ${printable(tag, 60)} is refused; a ${what} uses plain values only (core tags such as !!str at most)`, line(tagged.range?.[0]));
  }
  if (complexKey) throw refuse(`a mapping key must be a plain value, not a ${isAlias(complexKey) ? 'YAML alias' : 'mapping or sequence'}`, line(complexKey.range?.[0]));

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: LIMITS.yamlAliases });
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
    // `yaml` refuses excessive aliasing (billion laughs) with a ReferenceError.
    throw refuse(`the ${what} expands its YAML aliases beyond the limit of ${count(LIMITS.yamlAliases, 'alias expansions')} (docs/limits.md)`);
  }
  // No "__proto__" member: JavaScript and zod would turn it into a prototype and drop it.
  const proto = protoMember(value);
  if (proto !== undefined) throw refuse(`field ${fieldPath(proto)}: the member name "__proto__" is refused (docs/limits.md)`, lineOfPath(doc, proto, lineCounter), fieldPath(proto));
  // The value must be JSON a ledger can record: no NaN or Infinity (.nan, .inf), lone surrogates
  // ("\ud800"), cycles (recursive aliases) or nesting beyond the limit.
  try {
    canonicalize(value, { maxDepth: LIMITS.depth });
  } catch (err) {
    if (!(err instanceof CanonicalizationError)) throw err;
    const field = err.path || '(root)';
    throw refuse(`field ${field}: ${err.reason} (docs/limits.md)`, lineOfPath(doc, err.steps, lineCounter), field);
  }
  return { value, doc, lineCounter };
}

/** The line of the deepest node along `path` that the document has. */
export function lineOfPath(doc: Document, path: readonly (string | number)[], lineCounter: LineCounter): number {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return 1;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}
