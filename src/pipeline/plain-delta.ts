/**
 * The common chat chunk — one choice, a bit of text, nothing else going on — recognised without JSON.parse.
 * Nearly every chunk of a streamed answer is one of these; parsing each only to find its text cost ~6 µs per
 * chunk in the bench (the parse and its garbage), more than the rest of the transcript's work.
 *
 * The scan only runs on text without a backslash, where every `"` opens or closes a string and no string
 * holds a `"`: a key seen in the text is a key (or a whole string value), never part of another string. The
 * shape is checked (one object, brackets balanced outside strings), not the whole grammar. Anything it cannot
 * prove plain returns undefined, and the caller parses.
 */

/** Keys whose every occurrence must be `null` for the chunk to be plain. */
const NULL_ONLY = ['"finish_reason":', '"usage":', '"refusal":', '"reasoning_content":', '"reasoning":'];
/** Keys that must not occur at all. */
const ABSENT = ['"tool_calls"', '"function_call"', '"error"'];
const DELTA = '"delta":{"content":"';
/** A stream's first chunk: the role, then the content (OpenAI's own first chunk has `"content":""`). */
const ROLE_DELTA = '"delta":{"role":"assistant","content":"';
const INDEX = '"index":';

/**
 * The content text of `data` when it is a plain content delta of choice 0: `"delta":{"content":"…"` (or, in a
 * stream's first chunk, `"delta":{"role":"assistant","content":"…"`), exactly one `"index":0`, finish_reason,
 * usage, refusal and reasoning null or absent, no tool or function call. Otherwise undefined (parse it).
 */
export function plainDeltaContent(data: string): string | undefined {
  const end = contentEnd(data);
  return end === -1 ? undefined : data.slice(contentStart(data, end), end);
}

/**
 * Reads one stream's chunks like `plainDeltaContent`, faster: the chunks of one answer differ only in their text,
 * so once a chunk has been proven plain, a chunk with the same bytes before and after its text, and neither a
 * quote nor a backslash in the text, is plain too (it is the same JSON with another string in the same place).
 * That takes two comparisons instead of a dozen scans. Anything else gets the full check, which sets the template.
 */
export class PlainDeltaReader {
  /** The last plain chunk up to its text (through the opening quote), and from its closing quote on. */
  private head = '';
  private tail = '';

  read(data: string): string | undefined {
    const { head, tail } = this;
    if (head !== '' && data.length >= head.length + tail.length && data.startsWith(head) && data.endsWith(tail)) {
      const text = data.slice(head.length, data.length - tail.length);
      if (text.indexOf('"') === -1 && text.indexOf('\\') === -1) return text;
    }
    const end = contentEnd(data);
    if (end === -1) return undefined;
    const start = contentStart(data, end);
    this.head = data.slice(0, start);
    this.tail = data.slice(end);
    return data.slice(start, end);
  }
}

/** Where the text of a plain chunk ends (its closing quote), or -1 when the chunk is not provably plain. */
function contentEnd(data: string): number {
  if (data.indexOf('\\') !== -1 || !balanced(data)) return -1;
  let delta = DELTA;
  let at = data.indexOf(DELTA);
  if (at === -1) {
    delta = ROLE_DELTA;
    at = data.indexOf(ROLE_DELTA);
  }
  if (at === -1 || data.indexOf(delta, at + 1) !== -1) return -1;
  const end = data.indexOf('"', at + delta.length);
  if (end === -1) return -1;
  // One choice, and it is choice 0.
  const index = data.indexOf(INDEX);
  if (index === -1 || data.indexOf(INDEX, index + 1) !== -1) return -1;
  const digit = data.charCodeAt(index + INDEX.length + 1);
  if (data[index + INDEX.length] !== '0' || (digit >= 48 && digit <= 57)) return -1;
  for (const key of ABSENT) if (data.indexOf(key) !== -1) return -1;
  for (const key of NULL_ONLY) {
    for (let i = data.indexOf(key); i !== -1; i = data.indexOf(key, i + 1)) {
      if (!data.startsWith('null', i + key.length)) return -1;
    }
  }
  return end;
}

/** Where the text of a chunk `contentEnd` accepted starts: after the content key's opening quote. */
function contentStart(data: string, end: number): number {
  return data.lastIndexOf('"', end - 1) + 1;
}

/** One `{…}` whose brackets balance outside strings (the text has no backslash, so no escaped quotes). */
function balanced(data: string): boolean {
  if (data.charCodeAt(0) !== 123 || data.charCodeAt(data.length - 1) !== 125) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c === 34) inString = !inString;
    else if (inString) continue;
    else if (c === 123 || c === 91) depth++;
    else if ((c === 125 || c === 93) && --depth === 0 && i !== data.length - 1) return false;
  }
  return depth === 0 && !inString;
}
