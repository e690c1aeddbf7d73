/**
 * OpenAI-wire streams → canonical events. Chat chunks pass through as text (the canonical chunk *is* OpenAI's);
 * the Responses API's named events pass through with their names and end at `response.completed` (or
 * `response.incomplete`) instead of `[DONE]`. Every event is checked against what its API promises first
 * (`StreamShapeCheck`, below): a malformed event fails the stream instead of reaching the client's SDK.
 */
import type { Deployment, StreamEvent, StreamFrame } from '../../types.js';
import type { StreamDecoder } from '../adapter.js';
import { malformed } from '../shared/errors.js';
import { openAIStreamError, responsesStreamError } from './errors.js';

export class OpenAIStreamDecoder implements StreamDecoder {
  /** Events that are not what the API promises are a malformed upstream, never relayed. */
  private readonly chunks = new StreamShapeCheck('chunk');
  private readonly named = new StreamShapeCheck('event');

  constructor(private readonly d: Deployment) {}

  decode(event: StreamFrame): StreamEvent[] {
    const data = event.data;
    if (data === '[DONE]') return [{ type: 'done' }];
    // An empty data line carries nothing: a keep-alive sent as an event rather than as a comment.
    if (data === '') return [];
    // The Responses API names its events and ends with response.completed instead of [DONE].
    if (event.event !== undefined) {
      const failure = event.event === 'error' || event.event === 'response.failed';
      return this.checked(failure ? undefined : this.named.problem(data)) ?? responsesEvent(event.event, data, this.d);
    }
    // A literal `"error"` outside a string can only be a key or a whole value, so most chunks skip the parse.
    if (data.includes('"error"')) {
      const error = openAIStreamError(data, this.d);
      if (error) return [{ type: 'error', error }];
    }
    return this.checked(this.chunks.problem(data)) ?? [{ type: 'chunk', data }];
  }

  private checked(problem: string | undefined): StreamEvent[] | undefined {
    return problem === undefined ? undefined : [{ type: 'error', error: malformed(this.d, problem) }];
  }
}

const RESPONSES_END = new Set(['response.completed', 'response.incomplete']);

function responsesEvent(name: string, data: string, d: Deployment): StreamEvent[] {
  if (name === 'error' || name === 'response.failed') return [{ type: 'error', error: responsesStreamError(name, data, d) }];
  const chunk: StreamEvent = { type: 'chunk', event: name, data };
  return RESPONSES_END.has(name) ? [chunk, { type: 'done' }] : [chunk];
}

/**
 * Whether an OpenAI-wire stream event is what its API promises: a chat chunk is a JSON object with a `choices`
 * array (or a usage-only chunk: a `usage` object), a Responses API event a JSON object. Anything else (text that
 * is not JSON, a number, an array, an object of another shape) is a malformed upstream, not something to relay:
 * a client's SDK parses every chunk, and the gateway's first-token and resume logic read `choices`.
 *
 * Chunks pass through as text, so checking them should not cost a parse each (the parse's garbage is what made
 * it weigh ~6 µs a chunk in the bench, see plain-delta.ts). The chunks of one answer differ only in their string
 * values (the text, a tool call's arguments, OpenAI's random `obfuscation`): once a chunk has been parsed and
 * found good, a chunk with the same bytes outside its string values, and valid JSON strings inside them, is as
 * good (the same JSON with other strings in the same places). That check allocates nothing; in a micro-benchmark
 * its CPU is about the parse's (a JS loop over the strings' characters against V8's C++ parser), so what it saves
 * is the garbage. Anything else is parsed, and if good becomes the new template.
 */

export type Shape = 'chunk' | 'event';

const QUOTE = 34;
const COLON = 58;
const BACKSLASH = 92;

export class StreamShapeCheck {
  /** The last good event split at its string values (keys stay in: they make the shape): the bytes between them. */
  private template: readonly string[] | undefined;

  constructor(private readonly shape: Shape) {}

  /** What is wrong with `data`, or undefined when it is a good event. */
  problem(data: string): string | undefined {
    if (this.template !== undefined && fitsTemplate(data, this.template)) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return 'a stream event that is not JSON';
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'a stream event that is not a JSON object';
    if (this.shape === 'chunk') {
      const chunk = parsed as { choices?: unknown; usage?: unknown };
      const usage = typeof chunk.usage === 'object' && chunk.usage !== null;
      if (!Array.isArray(chunk.choices) && !usage) return 'a stream chunk without a "choices" array';
    }
    this.template = templateOf(data);
    return undefined;
  }
}

/**
 * `json` (valid JSON) cut around its string values: what comes before the first one's opening quote, between one's
 * closing quote and the next one's opening quote, …, and after the last. A key is a string followed by a colon.
 */
function templateOf(json: string): string[] {
  const parts: string[] = [];
  let from = 0;
  for (let i = json.indexOf('"'); i !== -1; i = json.indexOf('"', i)) {
    const end = stringEnd(json, i + 1);
    let next = end + 1;
    while (next < json.length && isSpace(json.charCodeAt(next))) next++;
    if (json.charCodeAt(next) !== COLON) {
      parts.push(json.slice(from, i + 1));
      from = end;
    }
    i = end + 1;
  }
  parts.push(json.slice(from));
  return parts;
}

/** Where the string whose contents start at `at` ends (its closing quote); valid JSON assumed. */
function stringEnd(json: string, at: number): number {
  for (let i = at; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i;
  }
  return json.length;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/**
 * Whether `data` is the template's parts with a valid JSON string's contents between each two: then, since the
 * template came from valid JSON, so is `data`, with the same keys in the same places. A string with an escape
 * is left to the parse (rare in chunks, and it keeps this to finding the closing quote).
 */
function fitsTemplate(data: string, parts: readonly string[]): boolean {
  let at = 0;
  const last = parts.length - 1;
  for (let p = 0; p < last; p++) {
    const part = parts[p] as string;
    if (!data.startsWith(part, at)) return false;
    at += part.length;
    const end = data.indexOf('"', at);
    if (end === -1) return false;
    for (let i = at; i < end; i++) {
      const c = data.charCodeAt(i);
      if (c < 32 || c === BACKSLASH) return false;
    }
    at = end;
  }
  const tail = parts[last] as string;
  return data.length === at + tail.length && data.endsWith(tail);
}
