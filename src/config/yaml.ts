/**
 * YAML text → plain data, with syntax errors as located, readable lines.
 *
 * References are masked before parsing. `{ api_key: ${KEY} }` is how people (and our docs) write
 * it, but in a flow mapping `{` and `}` are YAML syntax, so the unquoted form would be a parse error.
 * Each `${…}` is swapped for an opaque placeholder of the same length (so error columns stay true) made of
 * private-use characters YAML treats as ordinary text, and swapped back in the parsed values. Only the
 * reference text travels through the parser, never a variable's value, so interpolation still cannot
 * change the structure.
 */
import { parseDocument } from 'yaml';

export interface ParsedYaml {
  value: unknown;
  /** `line L, column C: message`, one per syntax error. */
  errors: string[];
}

// Quotes and backslashes are excluded: inside a quoted scalar YAML would unescape them, and a verbatim
// restore would not; such references are left for YAML to read as it normally does.
const REFERENCE_TEXT = /\$?\$\{[^}\n'"\\]*\}/g;
const MARK = '\uE000';
const FILL = '\uE001';
const FIRST_INDEX = 0xe100;
const LAST_INDEX = 0xf8ff;
const PLACEHOLDER = /\uE000([\uE100-\uF8FF])\uE001*/g;

function maskReferences(text: string): { masked: string; originals: string[] } {
  const originals: string[] = [];
  if (/[\uE000-\uF8FF]/.test(text)) return { masked: text, originals }; // cannot tell ours from the user's
  const masked = text.replace(REFERENCE_TEXT, (reference) => {
    const index = FIRST_INDEX + originals.length;
    if (index > LAST_INDEX) return reference;
    originals.push(reference);
    return MARK + String.fromCharCode(index) + FILL.repeat(reference.length - 2);
  });
  return { masked, originals };
}

function unmask(value: unknown, originals: readonly string[]): unknown {
  if (originals.length === 0) return value;
  const restore = (text: string) =>
    text.replace(PLACEHOLDER, (_, index: string) => originals[index.charCodeAt(0) - FIRST_INDEX] ?? '');
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return restore(node);
    if (Array.isArray(node)) return node.map(walk);
    if (typeof node === 'object' && node !== null) {
      return Object.fromEntries(Object.entries(node).map(([key, item]) => [restore(key), walk(item)]));
    }
    return node;
  };
  return walk(value);
}

export function parseYaml(text: string): ParsedYaml {
  const { masked, originals } = maskReferences(text);
  // `merge` allows `<<: *shared` between providers; aliases stay capped by yaml's default alias budget.
  const document = parseDocument(masked, { merge: true, prettyErrors: true });
  if (document.errors.length > 0) {
    return { value: undefined, errors: document.errors.map(describeSyntaxError) };
  }
  return { value: unmask(document.toJS(), originals), errors: [] };
}

interface YamlErrorLike {
  message: string;
  linePos?: [{ line: number; col: number }] | [{ line: number; col: number }, { line: number; col: number }];
}

function describeSyntaxError(error: YamlErrorLike): string {
  // yaml's message ends with a snippet of the (masked) source; only its first line is kept. The source line
  // is not quoted either: it may hold a literal api_key, and startup errors end up in logs.
  const summary = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
  const position = error.linePos?.[0];
  return position === undefined ? summary : `line ${position.line}, column ${position.col}: ${summary}`;
}
