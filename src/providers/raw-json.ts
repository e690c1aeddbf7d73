/**
 * Edits of a client's JSON request text that leave every other byte as the client sent it, so a body that only
 * needs its model name swapped (or `stream_options` added) is not parsed back into text by JSON.stringify.
 * Both functions are exact or give up: `undefined` means "serialise the parsed body instead". The text must be
 * one that JSON.parse accepted as an object.
 */

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
