/**
 * Edits of a client's JSON request text that leave every other byte as the client sent it, so a body that only
 * needs its model name swapped (or `stream_options` added) is not parsed back into text by JSON.stringify.
 * Both functions are exact or give up: `undefined` means "serialise the parsed body instead". The text must be
 * one that JSON.parse accepted as an object.
 */
import { GatewayError } from '../../errors.js';

/**
 * `raw` with the value of its top-level `"model"` key replaced by `model`. Undefined when there is no such key,
 * when a top-level key is repeated (JSON.parse keeps the last one; an upstream's parser might keep the first,
 * and must not see another model or another `stream` than the gateway did), or when a top-level key is written
 * with escapes (it might spell "model" another way).
 */
export function withModel(raw: string, model: string): string | undefined {
  const span = topLevelValue(raw, 'model');
  if (!span) return undefined;
  return raw.slice(0, span.start) + JSON.stringify(model) + raw.slice(span.end);
}

/**
 * `raw` with `"key":<jsonValue>` added as its last top-level member. The caller makes sure the object does not
 * have the key yet (so no duplicate is created). Undefined when `raw` is not a non-empty object's text.
 */
export function withField(raw: string, key: string, jsonValue: string): string | undefined {
  const end = raw.lastIndexOf('}');
  if (end === -1 || raw.slice(end + 1).trim() !== '') return undefined;
  let last = end - 1;
  while (last >= 0 && isSpace(raw.charCodeAt(last))) last--;
  if (last < 0 || raw[last] === '{') return undefined; // empty object: nothing to put a comma after
  return `${raw.slice(0, end)},${JSON.stringify(key)}:${jsonValue}${raw.slice(end)}`;
}

/**
 * How deeply JSON from a client may nest. JSON.parse takes any depth, but JSON.stringify recurses and runs out of
 * stack a few thousand levels down, and the gateway serialises what it parsed (a translation to another
 * provider's shape, a repeated key, tool call arguments parsed into an object). Real requests, tool schemas
 * included, stay far below it; OpenAI's own limit on a tool schema is 5 levels.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * Whether `text` nests objects and arrays more than `limit` levels deep (a top-level object is level 1). A linear
 * scan, strings skipped with indexOf (the bulk of a large body is string content); text that is not valid JSON
 * is scanned as far as it goes. Meant to run before JSON.parse, so nothing is built for text that is refused.
 */
export function nestsDeeperThan(text: string, limit: number = MAX_JSON_DEPTH): boolean {
  // Fewer opening brackets than the limit cannot nest past it: the common case costs a native search or two.
  if (text.length <= limit || !hasMoreOpenings(text, limit)) return false;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 34) {
      const end = stringEnd(text, i);
      if (end === -1) return false;
      i = end - 1;
    } else if (ch === 123 || ch === 91) {
      if (++depth > limit) return true;
    } else if (ch === 125 || ch === 93) {
      depth--;
    }
  }
  return false;
}

/**
 * JSON.parse of JSON text a client sent inside a string (tool call arguments), which a translation turns into an
 * object and serialises again: a 400 `json_too_deep` naming `param` when it nests past MAX_JSON_DEPTH. A
 * SyntaxError is the caller's to word.
 */
export function parseNestedJson(text: string, param: string): unknown {
  if (nestsDeeperThan(text)) {
    throw new GatewayError('bad_request', `${param} is JSON nested more than ${MAX_JSON_DEPTH} levels deep; flatten it to ${MAX_JSON_DEPTH} levels or fewer`, {
      code: 'json_too_deep',
      param,
    });
  }
  return JSON.parse(text);
}

/** More than `limit` `{` and `[` in the text, inside strings too: only a bound. */
function hasMoreOpenings(text: string, limit: number): boolean {
  let count = 0;
  for (const open of ['{', '[']) {
    for (let i = text.indexOf(open); i !== -1; i = text.indexOf(open, i + 1)) {
      if (++count > limit) return true;
    }
  }
  return false;
}

interface Span {
  start: number;
  end: number;
}

/**
 * Where the value of the top-level `key` is in `raw` (end exclusive); undefined when not exactly known, or when
 * any top-level key appears twice.
 */
export function topLevelValue(raw: string, key: string): Span | undefined {
  let i = skipSpace(raw, 0);
  if (raw[i] !== '{') return undefined;
  i = skipSpace(raw, i + 1);
  let found: Span | undefined;
  const seen = new Set<string>();
  if (raw[i] === '}') return undefined;
  for (;;) {
    if (raw[i] !== '"') return undefined;
    const keyEnd = stringEnd(raw, i);
    if (keyEnd === -1) return undefined;
    const name = raw.slice(i + 1, keyEnd - 1);
    if (name.includes('\\') || seen.has(name)) return undefined;
    seen.add(name);
    i = skipSpace(raw, keyEnd);
    if (raw[i] !== ':') return undefined;
    const start = skipSpace(raw, i + 1);
    const end = valueEnd(raw, start);
    if (end === -1) return undefined;
    if (name === key) found = { start, end };
    i = skipSpace(raw, end);
    if (raw[i] === ',') {
      i = skipSpace(raw, i + 1);
      continue;
    }
    return raw[i] === '}' ? found : undefined;
  }
}

/** The index just past the string starting at `i` (a `"`), or -1. */
function stringEnd(raw: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = raw.indexOf('"', j);
    if (q === -1) return -1;
    // The quote is escaped when an odd number of backslashes precede it.
    let k = q - 1;
    while (raw.charCodeAt(k) === 92) k--;
    if ((q - 1 - k) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** The index just past the JSON value starting at `i`, or -1. Strings are skipped with indexOf, not per char. */
function valueEnd(raw: string, i: number): number {
  const c = raw[i];
  if (c === '"') return stringEnd(raw, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    let j = i;
    while (j < raw.length) {
      const ch = raw.charCodeAt(j);
      if (ch === 34) {
        j = stringEnd(raw, j);
        if (j === -1) return -1;
        continue;
      }
      if (ch === 123 || ch === 91) depth++;
      else if (ch === 125 || ch === 93) {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    return -1;
  }
  // A number, true, false or null: up to the next delimiter.
  let j = i;
  while (j < raw.length) {
    const ch = raw.charCodeAt(j);
    if (ch === 44 || ch === 125 || ch === 93 || isSpace(ch)) break;
    j++;
  }
  return j > i ? j : -1;
}

function skipSpace(raw: string, i: number): number {
  while (i < raw.length && isSpace(raw.charCodeAt(i))) i++;
  return i;
}

function isSpace(ch: number): boolean {
  return ch === 32 || ch === 10 || ch === 13 || ch === 9;
}
