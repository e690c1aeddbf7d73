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
  if (data.indexOf('\\') !== -1 || !balanced(data)) return undefined;
  let delta = DELTA;
  let at = data.indexOf(DELTA);
  if (at === -1) {
    delta = ROLE_DELTA;
    at = data.indexOf(ROLE_DELTA);
  }
  if (at === -1 || data.indexOf(delta, at + 1) !== -1) return undefined;
  const start = at + delta.length;
  const end = data.indexOf('"', start);
  if (end === -1) return undefined;
  // One choice, and it is choice 0.
  const index = data.indexOf(INDEX);
  if (index === -1 || data.indexOf(INDEX, index + 1) !== -1) return undefined;
  const digit = data.charCodeAt(index + INDEX.length + 1);
  if (data[index + INDEX.length] !== '0' || (digit >= 48 && digit <= 57)) return undefined;
  for (const key of ABSENT) if (data.indexOf(key) !== -1) return undefined;
  for (const key of NULL_ONLY) {
    for (let i = data.indexOf(key); i !== -1; i = data.indexOf(key, i + 1)) {
      if (!data.startsWith('null', i + key.length)) return undefined;
    }
  }
  return data.slice(start, end);
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
