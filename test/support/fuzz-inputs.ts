// Request generators for test/e2e/fuzz.test.ts: seeded, so a failing case can be replayed from its seed and index.
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { mulberry32 } from '../../src/mock/index.js';

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Sent with chunked framing (no Content-Length), in two pieces. */
  chunked?: boolean;
  /** What the case was meant to exercise, for the failure report. */
  kind: string;
}

/** JSON text that is written as is (`-0`, `1e400`, a deep nest), where a JS value cannot say it. */
class Raw {
  constructor(readonly text: string) {}
}

/** An object whose keys may repeat, in order. */
class Pairs {
  constructor(readonly entries: [string, unknown][]) {}
}

export function emit(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (v instanceof Pairs) return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${emit(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map(emit).join(',')}]`;
  if (v !== null && typeof v === 'object') return emit(new Pairs(Object.entries(v)));
  return JSON.stringify(v) ?? 'null';
}

export class Gen {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }

  /** Strings a parser or a counter may trip on: empty, huge, lone surrogates, NUL, BOM, RTL, emoji, markup. */
  str(): string {
    return this.pick([
      '',
      'hi',
      'x'.repeat(1 + this.int(5000)),
      '\ud800',
      'a\udc00b',
      '\udbff\udfff',
      '\u0000',
      '\ufeff',
      '\u202eevil',
      '👍🏽 ',
      '<|endoftext|>',
      '{{template}}',
      'data:image/png;base64,iVBORw0KGgo=',
      'https://example.invalid/x.png',
      '%E0%A4%A',
      '\r\n\r\ndata: [DONE]\n\n',
      'NaN',
      'Infinity',
      '-0',
      'null',
      'true',
      '[]',
      '{}',
      'gpt-test',
      'user',
      'function',
      'text',
      'image_url',
      'auto',
      'json_schema',
      '__proto__',
      'constructor',
    ]);
  }

  /** JSON text in a string field that a provider's translation parses: tool call arguments, tool results. */
  jsonText(): string {
    return this.pick([
      '{"a":1}',
      '{}',
      '',
      ' ',
      '[]',
      '1',
      'null',
      '"s"',
      '{',
      'not json',
      '{"a":1,"a":2}',
      '{"__proto__":{"x":1},"constructor":1}',
      // nested deeper than JSON.stringify can follow once parsed
      `${'{"a":'.repeat(12_000)}1${'}'.repeat(12_000)}`,
      `{"a":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
      `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
    ]);
  }

  /** A number a range check may miss: negative, zero, fractional, huge, beyond float range. */
  num(): unknown {
    return this.pick<unknown>([0, new Raw('-0'), -1, 0.5, 1.5, 2, 3, 1e9, 2 ** 31, 2 ** 53 + 1, new Raw('1e400'), new Raw('-1e400'), new Raw('1E-400'), -1e308, 1e308]);
  }

  /** Any JSON value, of any type, to put where a field of one type is expected. */
  junk(depth = 2): unknown {
    const scalar = (): unknown =>
      this.pick<() => unknown>([
        () => null,
        () => true,
        () => false,
        () => 0,
        () => new Raw('-0'),
        () => -1,
        () => 0.5,
        () => 1.7976931348623157e308,
        () => -1.7976931348623157e308,
        () => new Raw('1e400'),
        () => new Raw('-1e400'),
        () => new Raw('123456789012345678901234567890'),
        () => 2 ** 53 + 1,
        () => 4294967297,
        () => new Raw('1E-400'),
        () => this.str(),
        () => this.str(),
      ])();
    if (depth <= 0 || this.chance(0.55)) return scalar();
    if (this.chance(0.1)) return this.deep(this.pick([50, 129, 300, 2000, 6000]));
    if (this.chance(0.5)) return Array.from({ length: this.int(4) }, () => this.junk(depth - 1));
    const entries: [string, unknown][] = [];
    for (let i = this.int(4); i > 0; i--) entries.push([this.pick(['type', 'text', 'role', 'content', 'name', 'x', '', '__proto__', 'constructor']), this.junk(depth - 1)]);
    return new Pairs(entries);
  }

  /** A JSON Schema as a client might write one, or half of one: what token counting and Gemini's translation read. */
  schema(depth = 3): unknown {
    if (depth <= 0 || this.chance(0.15)) return this.chance(0.5) ? { type: this.pick(['string', 'number', 'integer', 'boolean', 'null']) } : this.junk(1);
    const entries: [string, unknown][] = [];
    for (let i = 1 + this.int(4); i > 0; i--) {
      const key = this.pick(['type', 'properties', 'items', 'required', 'enum', 'anyOf', 'oneOf', '$ref', '$defs', 'const', 'description', 'additionalProperties', 'nullable', 'format', 'default', 'minimum']);
      const value = this.pick<() => unknown>([
        () => this.pick<unknown>(['object', 'array', 'string', ['string', 'null'], ['null'], 'any', 7]),
        () => new Pairs([[this.pick(['a', '__proto__', 'constructor', '', 'b c']), this.schema(depth - 1)], ['z', this.schema(depth - 1)]]),
        () => this.schema(depth - 1),
        () => [this.schema(depth - 1), this.schema(depth - 1)],
        () => this.pick<unknown>([['a'], ['a', 1, null], [], '#/$defs/x', true, false]),
        () => this.junk(1),
      ])();
      entries.push([key, value]);
    }
    return new Pairs(entries);
  }

  deep(levels: number): Raw {
    const open = this.chance(0.5) ? '[' : '{"a":';
    const close = open === '[' ? ']' : '}';
    return new Raw(`${open.repeat(levels)}1${close.repeat(levels)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Well-formed bodies per route, with every field the gateway or a provider builder reads, then mutated

type Body = Record<string, unknown>;

export const MODELS = ['gpt-test', 'tiny', 'claude', 'gem', 'bed'];
/** Names a lookup in a plain object would find on its prototype. */
const ODD_MODELS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'nope', ''];
export const EMBED_MODELS = ['gpt-test', 'gem-embed'];

function chatBody(g: Gen): Body {
  const content = g.chance(0.5)
    ? 'Say hello'
    : [
        { type: 'text', text: 'Say hello' },
        ...(g.chance(0.3) ? [{ type: 'image_url', image_url: { url: g.pick(['data:image/png;base64,iVBORw0KGgo=', 'data:,', 'data:image/png,raw', 'https://x.invalid/a.png', 'ftp://x', '']), detail: g.pick(['low', 'high', 'auto', 'ultra']) } }] : []),
        ...(g.chance(0.15) ? [{ type: 'input_audio', input_audio: { data: 'AAAA', format: g.pick(['wav', 'mp3', 'ogg']) } }] : []),
        ...(g.chance(0.15) ? [{ type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' } }] : []),
        ...(g.chance(0.1) ? [{ type: 'refusal', refusal: 'no' }] : []),
      ];
  const messages: unknown[] = [];
  if (g.chance(0.4)) messages.push({ role: g.pick(['system', 'developer']), content: 'Be terse.' });
  messages.push({ role: 'user', content });
  if (g.chance(0.4)) {
    const args = g.chance(0.5) ? g.jsonText() : '{"a":1}';
    messages.push({ role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: args } }] });
    messages.push({ role: 'tool', tool_call_id: 'call_1', content: g.chance(0.5) ? g.jsonText() : 'ok' });
  }
  const body: Body = { model: g.pick(MODELS), messages };
  const optional: Body = {
    stream: g.chance(0.5),
    stream_options: { include_usage: true },
    max_tokens: 50,
    max_completion_tokens: 40,
    temperature: 0.7,
    top_p: 0.9,
    n: 1,
    stop: ['\n\n'],
    logit_bias: { '50256': -100 },
    presence_penalty: 0,
    frequency_penalty: 0,
    seed: 7,
    user: 'u1',
    tools: [
      { type: 'function', function: { name: 'f', description: 'a tool', parameters: g.chance(0.5) ? g.schema() : { type: 'object', properties: { a: { type: 'number' } } } } },
      ...(g.chance(0.2) ? [{ type: g.pick(['web_search', 'code_interpreter', 'custom']), name: 'w' }] : []),
    ],
    functions: [{ name: 'legacy', parameters: g.schema() }],
    function_call: g.pick<unknown>(['auto', 'none', { name: 'legacy' }]),
    tool_choice: g.pick(['auto', 'none', 'required', { type: 'function', function: { name: 'f' } }]),
    parallel_tool_calls: true,
    response_format: g.pick([{ type: 'json_object' }, { type: 'text' }, { type: 'json_schema', json_schema: { name: 's', schema: g.chance(0.5) ? g.schema() : { type: 'object' } } }]),
    logprobs: false,
    metadata: { k: 'v' },
  };
  for (const [k, v] of Object.entries(optional)) if (g.chance(0.25)) body[k] = v;
  return body;
}

function embeddingsBody(g: Gen): Body {
  const body: Body = { model: g.pick(EMBED_MODELS), input: g.pick<unknown>(['hello', ['a', 'b'], [[1, 2, 3]]]) };
  if (g.chance(0.3)) body.encoding_format = g.pick(['float', 'base64']);
  if (g.chance(0.3)) body.dimensions = 8;
  return body;
}

function responsesBody(g: Gen): Body {
  const body: Body = {
    model: g.pick(MODELS),
    input: g.pick<unknown>(['hello', [{ role: 'user', content: 'hello' }], [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }]]),
  };
  if (g.chance(0.3)) body.stream = g.chance(0.5);
  if (g.chance(0.3)) body.instructions = 'Be terse.';
  if (g.chance(0.3)) body.max_output_tokens = 50;
  if (g.chance(0.2)) body.tools = [{ type: 'function', name: 'f', parameters: { type: 'object' } }];
  return body;
}

function messagesBody(g: Gen): Body {
  const messages: unknown[] = [{ role: 'user', content: g.chance(0.5) ? 'Say hello' : [{ type: 'text', text: 'Say hello' }] }];
  if (g.chance(0.3)) {
    messages.push({ role: 'assistant', content: [{ type: 'text', text: 'Let me look.' }, { type: 'tool_use', id: 't1', name: 'f', input: { a: 1 } }] });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'ok' }], is_error: false }] });
  }
  if (g.chance(0.2)) {
    messages.push({ role: 'assistant', content: 'ok' });
    messages.push({
      role: 'user',
      content: [
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
        { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc' }, title: 'd' },
        { type: 'text', text: 'and this?' },
      ],
    });
  }
  const body: Body = { model: g.pick(MODELS), max_tokens: 50, messages };
  const optional: Body = {
    system: g.pick<unknown>(['Be terse.', [{ type: 'text', text: 'Be terse.' }]]),
    stream: g.chance(0.5),
    temperature: 0.5,
    top_p: 0.9,
    top_k: 5,
    stop_sequences: ['END'],
    metadata: { user_id: 'u1' },
    tools: [{ name: 'f', description: 'a tool', input_schema: g.chance(0.5) ? g.schema() : { type: 'object', properties: { a: { type: 'number' } } } }],
    tool_choice: g.pick([{ type: 'auto' }, { type: 'any' }, { type: 'none' }, { type: 'tool', name: 'f', disable_parallel_tool_use: true }]),
  };
  for (const [k, v] of Object.entries(optional)) if (g.chance(0.25)) body[k] = v;
  return body;
}

/** Every container in `v` with the key or index that leads to it: the places a mutation can hit. */
function slots(v: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []): typeof out {
  if (v instanceof Raw || v instanceof Pairs) return out;
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push([v, i]);
      slots(x, out);
    });
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      out.push([v as Record<string, unknown>, k]);
      slots(x, out);
    }
  }
  return out;
}

/**
 * A few fields anywhere in the body changed: to another value of the same type (which passes a type check
 * and reaches the provider's translation), to a value of another type, deleted, or given a sibling of junk.
 */
function mutate(g: Gen, body: Body): void {
  for (let n = 1 + g.int(3); n > 0; n--) {
    const all = slots(body);
    if (all.length === 0) return;
    const [container, key] = g.pick(all);
    const slot = container as Record<string | number, unknown>;
    const old = slot[key];
    const r = g.float();
    if (r < 0.4 && typeof old === 'string') slot[key] = key === 'model' && g.chance(0.5) ? g.pick(ODD_MODELS) : g.chance(0.2) ? g.jsonText() : g.str();
    else if (r < 0.4 && typeof old === 'number') slot[key] = g.num();
    else if (r < 0.4 && Array.isArray(old)) slot[key] = g.chance(0.5) ? [] : [...old, ...old];
    else if (r < 0.7) slot[key] = g.junk();
    else if (r < 0.85 && !Array.isArray(container)) delete container[key as string];
    else if (Array.isArray(container)) container.push(g.junk());
    else container[g.pick(['type', 'extra', 'role', 'content', 'stream', 'n', 'input'])] = g.junk();
  }
}

const BODIES: Record<string, (g: Gen) => Body> = {
  '/v1/chat/completions': chatBody,
  '/v1/embeddings': embeddingsBody,
  '/v1/responses': responsesBody,
  '/v1/messages': messagesBody,
};
export const BODY_ROUTES = Object.keys(BODIES);

/** The text of a body for `route`: well-formed, mutated, or broken at the JSON level. */
function bodyText(g: Gen, route: string): { text: string; kind: string } {
  const body = BODIES[route]!(g);
  const r = g.float();
  if (r < 0.15) return { text: emit(body), kind: 'valid' };
  if (r < 0.7) {
    mutate(g, body);
    return { text: emit(body), kind: 'mutated' };
  }
  if (r < 0.78) {
    // a repeated key: the parsed body differs from the text, which the gateway must then serialise itself
    const entries = Object.entries(body);
    entries.push([g.pick(['model', 'stream', 'messages', 'input', 'max_tokens']), g.junk()]);
    if (g.chance(0.5)) entries.push(['model', g.pick(MODELS)]);
    return { text: emit(new Pairs(entries)), kind: 'duplicate key' };
  }
  if (r < 0.86) {
    const text = emit(body);
    return { text: text.slice(0, g.int(text.length)), kind: 'truncated JSON' };
  }
  return {
    text: g.pick([
      '',
      ' ',
      '[]',
      '"text"',
      '42',
      'null',
      'true',
      '{',
      '{"model":}',
      '{"model":"gpt-test",}',
      "{'model':'gpt-test'}",
      '{"model":NaN}',
      '{"model":Infinity}',
      '{/* c */}',
      '{"a":1}{"b":2}',
      `{"model":"gpt-test","messages":${g.deep(6000).text}}`,
      `${'['.repeat(20000)}`,
      'model=gpt-test&messages=hi',
    ]),
    kind: 'not a JSON object',
  };
}

const HEADERS: Record<string, readonly string[]> = {
  'content-type': ['application/json', 'text/plain', 'application/json; charset=latin1', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', '*/*', ''],
  'x-lifeline-timeout-ms': ['abc', '-1', '0', '1.5', '1e3', ' 30000 ', '99999999999999999999999', '30000', '', '0x10'],
  'x-lifeline-transforms': ['middle-out', 'MIDDLE-OUT, ', ',,,', 'nope', 'middle-out,nope', ''],
  'x-lifeline-fallbacks': ['off', 'on', '0', '', 'maybe'],
  'x-request-id': ['abc', 'x'.repeat(300), 'a b', 'tab\there', '../../etc', 'caf\u00e9', ''],
  accept: ['text/event-stream', 'application/json', '*/*', 'image/png'],
  'anthropic-version': ['2023-06-01', 'yesterday', ''],
  authorization: ['Bearer x', 'Basic Zm9vOmJhcg==', 'Bearer', ''],
  'x-api-key': ['sk-x', '', 'k'.repeat(500)],
  'accept-encoding': ['gzip', 'br;q=0', 'identity;q=0, *;q=0', 'nonsense'],
};

function headers(g: Gen): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json' };
  for (const [name, values] of Object.entries(HEADERS)) if (g.chance(0.08)) h[name] = g.pick(values);
  return h;
}

/** Bytes a UTF-8 decoder must repair: overlong, truncated, lone continuation, surrogate halves, 0xFF. */
const BAD_UTF8 = [[0xff], [0xc0, 0x80], [0xe0, 0xa4], [0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xef, 0xbb, 0xbf]];

/** The body's bytes, sometimes with invalid UTF-8 inside a string, a BOM, or a content coding (real or garbage). */
function encode(g: Gen, text: string, h: Record<string, string>): { body: Buffer; kind: string } {
  let body = Buffer.from(text, 'utf8');
  let kind = '';
  if (g.chance(0.08)) {
    const at = text.indexOf('"', g.int(text.length));
    const cut = at === -1 ? g.int(body.length + 1) : Buffer.byteLength(text.slice(0, at + 1));
    body = Buffer.concat([body.subarray(0, cut), Buffer.from(g.pick(BAD_UTF8)), body.subarray(cut)]);
    kind += ' +bad utf-8';
  }
  if (g.chance(0.04)) {
    body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]);
    kind += ' +BOM';
  }
  if (g.chance(0.12)) {
    const coding = g.pick(['gzip', 'x-gzip', 'deflate', 'br', 'gzip, gzip', 'GZIP', 'identity', 'compress', 'gzip, br, deflate, gzip', ' , ', 'gzip;q=1']);
    h['content-encoding'] = coding;
    const garbage = g.chance(0.4);
    if (garbage) body = Buffer.from(g.pick([[0x1f, 0x8b, 0x08, 0, 1, 2, 3], [0x78, 0x9c, 0xff], [1, 2, 3, 4], []]));
    else if (coding.toLowerCase().includes('gzip')) body = gzipSync(body);
    else if (coding === 'deflate') body = deflateSync(body);
    else if (coding === 'br') body = brotliCompressSync(body);
    kind += ` +content-encoding ${JSON.stringify(coding)}${garbage ? ' (garbage)' : ''}`;
  }
  return { body, kind };
}

const PATHS = ['/v1/chat/completions', '/v1/embeddings', '/v1/responses', '/v1/messages', '/v1/models', '/health', '/ready', '/metrics'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];

/** A path with a twist: bad percent-encoding, a query, a trailing slash, case, length, or nothing known at all. */
function oddPath(g: Gen): string {
  return g.pick<() => string>([
    () => `/v1/models/${g.pick(['gpt-test', 'gpt%2Dtest', '%', '%E0%A4%A', '%ZZ', '%C0%80', '%ED%A0%80', '%00', '..%2F..%2Fetc', 'x'.repeat(8000), encodeURIComponent('👍🏽'), '%25', ''])}`,
    () => `${g.pick(PATHS)}?${g.pick(['a=%', 'stream=true', `q=${'%'.repeat(200)}`, '', '%E0%A4%A'])}`,
    () => `${g.pick(PATHS)}/`,
    () => g.pick(PATHS).toUpperCase(),
    () => `/${'a/'.repeat(g.int(3000))}`,
    () => g.pick(['/', '//v1//chat//completions', '/v1', '/v2/chat/completions', '/%', '/v1/%E0%A4%A', '/v1/chat/completions%00', '/favicon.ico', '*']),
  ])();
}

/** One request: mostly a body route with a generated body, else any path with any method. */
export function fuzzRequest(g: Gen): FuzzRequest {
  const h = headers(g);
  if (g.chance(0.06)) return { method: g.pick(['GET', 'GET', 'POST', 'HEAD']), path: oddPath(g), headers: h, kind: 'odd path' };
  if (g.chance(0.72)) {
    const route = g.pick(BODY_ROUTES);
    const { text, kind } = bodyText(g, route);
    const encoded = encode(g, text, h);
    const method = g.chance(0.95) ? 'POST' : g.pick(METHODS);
    const query = g.chance(0.05) ? `?${g.pick(['stream=true', 'a=%', 'model=x&model=y', '%E0%A4%A', ''])}` : '';
    const chunked = g.chance(0.1);
    return { method, path: route + query, headers: h, body: encoded.body, chunked, kind: `${kind}${encoded.kind}${chunked ? ' +chunked' : ''}` };
  }
  const method = g.pick(METHODS);
  const path = g.chance(0.5) ? g.pick(PATHS) : oddPath(g);
  const body = method === 'GET' || method === 'HEAD' ? (g.chance(0.1) ? Buffer.from('{"model":1}') : undefined) : Buffer.from(bodyText(g, g.pick(BODY_ROUTES)).text);
  return { method, path, headers: h, ...(body ? { body } : {}), kind: 'any route' };
}
