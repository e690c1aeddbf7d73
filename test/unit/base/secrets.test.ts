// The secrets module (src/secrets.ts), and where it is used: every provider's error classification, HTTP and
// mid-stream, keeps the configured secrets — whole, cut or padded — out of every field of the GatewayError it builds
// (upstream error text is untrusted); the logger scrubs every line; the dialects show nothing key-shaped.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/config/index.js';
import type { ProviderConfig, ProviderType } from '../../../src/config/types.js';
import { GatewayError } from '../../../src/errors.js';
import { createLogger, requestLineWriter } from '../../../src/observability/logger.js';
import { bedrockStreamError } from '../../../src/providers/bedrock/errors.js';
import { promptBlocked } from '../../../src/providers/gemini/errors.js';
import { adapterFor } from '../../../src/providers/index.js';
import type { Deployment, StreamEvent } from '../../../src/types.js';
import { configSecrets, providerSecretValues, REDACTED, Secrets, secretsOf } from '../../../src/secrets.js';
import { anthropicErrorJson } from '../../../src/server/dialects/anthropic/shape.js';
import { openAIErrorBody } from '../../../src/server/dialects/openai/dialect.js';
import { deployment as deploymentOn, providerConfig } from '../../support/fixtures.js';

const API_KEY = 'sk-u8jzPde0IgxLd6GncfBAepfJB';
// Made-up credentials in the real shape (the key id assembled, so a secret scanner does not take it for a real one).
const AWS = { access_key_id: `${'AKIA'}60KVJ50CE9UVW53E`, secret_access_key: 'lI8ihN5KXSc7Tvo+hBKqFYY+kv5ZJr3J1TWDtkwt', session_token: 'IQoJb3JpZ2luX2VjEMr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD' };
const HEADER_TOKEN = 'tok_9f8e7d6c5b4a39281706f5e4';

function provider(type: ProviderType): ProviderConfig {
  return providerConfig({
    ...{ name: `${type}-p`, type, api_key: type === 'bedrock' ? undefined : API_KEY, base_url: 'http://127.0.0.1:1/v1' },
    headers: { 'x-portkey-api-key': HEADER_TOKEN, 'openai-organization': 'org-public' },
    ...{ region: 'us-east-1', aws: type === 'bedrock' ? AWS : undefined },
  });
}

const deployment = (type: ProviderType): Deployment => deploymentOn(provider(type), 'm');

const SECRETS = [API_KEY, HEADER_TOKEN, AWS.access_key_id, AWS.secret_access_key, AWS.session_token];

/** The ways an upstream echoes a secret: whole, cut at either end, run into other text. */
function echoes(secret: string): string[] {
  return [secret, secret.slice(0, secret.length - 2), secret.slice(2), `xx${secret}yy`, secret.slice(3, 15)];
}

function leak(text: string): string | undefined {
  for (const s of SECRETS) {
    for (let i = 0; i + 12 <= s.length; i++) if (text.includes(s.slice(i, i + 12))) return s.slice(i, i + 12);
  }
  return undefined;
}

function expectClean(err: GatewayError, where: string): void {
  const fields = { message: err.message, code: err.code, param: err.param, upstreamRequestId: err.upstreamRequestId, deployment: err.deployment };
  expect(leak(JSON.stringify(fields)), `${where}: ${JSON.stringify(fields)}`).toBeUndefined();
}

function streamError(events: StreamEvent[]): GatewayError {
  const e = events.find((x) => x.type === 'error');
  if (e?.type !== 'error') throw new Error(`no error event in ${JSON.stringify(events)}`);
  return e.error;
}

const STATUSES = [400, 401, 403, 404, 422, 429, 500, 503];

/** What each provider has configured: its key (AWS credentials for bedrock) and a secret-looking header. */
const CONFIGURED = {
  keyed: [API_KEY, HEADER_TOKEN],
  bedrock: [AWS.access_key_id, AWS.secret_access_key, AWS.session_token, HEADER_TOKEN],
};

function cases(secrets: string[]): Array<[string, string]> {
  return secrets.flatMap((s) => echoes(s).map((echo): [string, string] => [`${echo.slice(0, 14)}… (${echo.length} chars)`, echo]));
}

const headersFor = (echo: string) => ({ 'x-request-id': echo, 'request-id': echo, 'x-amzn-requestid': echo, 'x-amzn-errortype': `${echo}:http://x` });
const message = (echo: string) => `Incorrect API key provided: ${echo}`;

describe('upstream errors that echo a configured secret, by provider', () => {
  it.each(cases(CONFIGURED.keyed))('openai and compatible hosts: %s', (_, echo) => {
    for (const type of ['openai', 'azure', 'vllm', 'deepseek'] as ProviderType[]) {
      const d = deployment(type);
      const adapter = adapterFor(type);
      const body = JSON.stringify({ error: { message: message(echo), type: echo, code: echo, param: echo } });
      for (const status of STATUSES) expectClean(adapter.classifyError(status, headersFor(echo), body, d), `${type} ${status}`);
      const decoder = adapter.createStreamDecoder(d);
      expectClean(streamError(decoder.decode({ data: body })), `${type} stream`);
      const event = JSON.stringify({ message: message(echo), code: echo, param: echo });
      expectClean(streamError(decoder.decode({ event: 'error', data: event })), `${type} responses error`);
      const failed = JSON.stringify({ response: { error: { message: message(echo), code: echo } } });
      expectClean(streamError(decoder.decode({ event: 'response.failed', data: failed })), `${type} response.failed`);
    }
  });

  it.each(cases(CONFIGURED.keyed))('anthropic: %s', (_, echo) => {
    const d = deployment('anthropic');
    const adapter = adapterFor('anthropic');
    const body = JSON.stringify({ type: 'error', error: { type: echo, message: message(echo), code: echo, param: echo } });
    for (const status of STATUSES) expectClean(adapter.classifyError(status, headersFor(echo), body, d), `anthropic ${status}`);
    const decoder = adapter.createStreamDecoder(d);
    expectClean(streamError(decoder.decode({ event: 'error', data: body })), 'anthropic stream');
  });

  it.each(cases(CONFIGURED.keyed))('gemini: %s', (_, echo) => {
    const d = deployment('gemini');
    const adapter = adapterFor('gemini');
    const body = JSON.stringify({ error: { code: 400, message: message(echo), status: echo, details: [{ '@type': 'x', reason: echo }] } });
    for (const status of STATUSES) expectClean(adapter.classifyError(status, headersFor(echo), body, d), `gemini ${status}`);
    const decoder = adapter.createStreamDecoder(d);
    expectClean(streamError(decoder.decode({ data: body })), 'gemini stream');
    expectClean(promptBlocked({ blockReason: echo, blockReasonMessage: message(echo) }, d), 'gemini blocked');
  });

  it.each(cases(CONFIGURED.bedrock))('bedrock: %s', (_, echo) => {
    const d = deployment('bedrock');
    const adapter = adapterFor('bedrock');
    const body = JSON.stringify({ message: message(echo), __type: echo });
    for (const status of STATUSES) {
      expectClean(adapter.classifyError(status, headersFor(echo), body, d), `bedrock ${status}`);
      expectClean(adapter.classifyError(status, {}, body, d), `bedrock ${status} (__type)`);
    }
    expectClean(bedrockStreamError(echo, JSON.stringify({ message: message(echo) }), d), 'bedrock stream');
  });
});

describe('legitimate upstream fields survive', () => {
  it('codes, types and params of the usual shapes', () => {
    const openai = adapterFor('openai');
    const d = deployment('openai');
    const context = openai.classifyError(400, { 'x-request-id': 'req_0123456789abcdef0123456789abcdef' }, JSON.stringify({
      error: { message: "This model's maximum context length is 8192 tokens.", type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' },
    }), d);
    expect(context).toMatchObject({ kind: 'context_length', code: 'context_length_exceeded', param: 'messages', upstreamRequestId: 'req_0123456789abcdef0123456789abcdef' });
    expect(context.message).toContain("This model's maximum context length is 8192 tokens.");
    const tools = openai.classifyError(400, {}, JSON.stringify({ error: { message: 'bad', code: 'invalid_value', param: 'tools[0].function.name' } }), d);
    expect(tools).toMatchObject({ code: 'invalid_value', param: 'tools[0].function.name' });
    expect(openai.classifyError(429, {}, JSON.stringify({ error: { message: 'slow down', code: 'rate_limit_exceeded' } }), d).code).toBe('rate_limit_exceeded');
    const anthropic = adapterFor('anthropic').classifyError(529, { 'request-id': 'req_011CSHoEeqs5C35K2UUqR7Fy' }, JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }), deployment('anthropic'));
    expect(anthropic).toMatchObject({ kind: 'overloaded', code: 'overloaded_error', upstreamRequestId: 'req_011CSHoEeqs5C35K2UUqR7Fy' });
    const gemini = adapterFor('gemini').classifyError(429, {}, JSON.stringify({ error: { code: 429, message: 'Resource exhausted.', status: 'RESOURCE_EXHAUSTED' } }), deployment('gemini'));
    expect(gemini).toMatchObject({ kind: 'rate_limited', code: 'resource_exhausted', message: expect.stringContaining('Resource exhausted.') });
    const bedrock = adapterFor('bedrock').classifyError(429, { 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/' }, JSON.stringify({ message: 'Too many requests, please wait before trying again.' }), deployment('bedrock'));
    expect(bedrock).toMatchObject({ kind: 'rate_limited', code: 'ThrottlingException' });
    expect(bedrock.message).toContain('ThrottlingException');
  });
});

describe('Secrets.scrubUntrusted', () => {
  const secrets = new Secrets([API_KEY]);
  const scrub = (text: string) => secrets.scrubUntrusted(text);

  it('replaces the exact secret, and any run of 8 or more of its characters', () => {
    expect(scrub(`key ${API_KEY} end`)).toBe('key [redacted] end');
    expect(scrub(`key ${API_KEY.slice(0, 26)} end`)).toBe('key [redacted] end');
    expect(scrub(`key ${API_KEY.slice(2)} end`)).toBe('key [redacted] end');
    expect(scrub(`key xx${API_KEY}yy end`)).toBe('key xx[redacted]yy end');
    expect(scrub(`piece ${API_KEY.slice(10, 18)}.`)).toBe('piece [redacted].');
    expect(scrub(API_KEY)).toBe(REDACTED);
    expect(scrub(API_KEY.slice(5, 20))).toBe(REDACTED);
  });

  it('leaves shorter pieces and ordinary text alone, and returns the text itself when there is nothing', () => {
    const seven = API_KEY.slice(10, 17);
    expect(scrub(`piece ${seven}!`)).toBe(`piece ${seven}!`);
    const text = 'This model’s maximum context length is 8192 tokens — 🙂 — please shorten the messages.';
    expect(scrub(text)).toBe(text);
    expect(scrub('')).toBe('');
    expect(scrub('short')).toBe('short');
  });

  it('redacts each separate occurrence, and merges overlapping or touching ones', () => {
    expect(scrub(`a ${API_KEY.slice(0, 10)} b ${API_KEY.slice(12)} c`)).toBe('a [redacted] b [redacted] c');
    expect(scrub(`${API_KEY}${API_KEY}`)).toBe(REDACTED);
    // One character changed in the middle: the pieces on either side are still pieces.
    const changed = `${API_KEY.slice(0, 14)}#${API_KEY.slice(15)}`;
    expect(scrub(changed)).toBe('[redacted]#[redacted]');
  });

  it('finds a piece at the very end of a long text (one pass, no window missed)', () => {
    const long = 'x'.repeat(100_000) + API_KEY.slice(-9);
    expect(scrub(long)).toBe(`${'x'.repeat(100_000)}${REDACTED}`);
    const spread = Array.from({ length: 1000 }, (_, i) => `w${i} ${API_KEY.slice(i % 20, (i % 20) + 8)}`).join(' ');
    expect(scrub(spread)).not.toMatch(/u8jz|IgxL|GncfB/);
  });

  it('matches secrets shorter than a fragment exactly', () => {
    const shortSecrets = new Secrets(['a1b2c3', 'tiny']);
    expect(shortSecrets.scrubUntrusted('x a1b2c3 y tiny z')).toBe('x [redacted] y tiny z');
    expect(shortSecrets.size).toBe(1);
  });

  it('redacts key-shaped tokens that are not configured', () => {
    expect(Secrets.none.scrubUntrusted('x sk-proj-AAAAAAAAAAAAAAAA y')).toBe('x [redacted] y');
    expect(Secrets.none.scrubUntrusted('bad AIzaSyA0123456789abcdefghijklmnopqrstuvw.')).toBe('bad [redacted].');
  });

  it('replaces the longest secret first when one holds another', () => {
    const nested = new Secrets(['abcdefgh', 'abcdefgh-ijklmnop']);
    expect(nested.scrubExact('x abcdefgh-ijklmnop y')).toBe('x [redacted] y');
    expect(nested.scrubUntrusted('x abcdefgh-ijklmnop y')).toBe('x [redacted] y');
  });
});

describe('Secrets.scrubExact', () => {
  const secrets = new Secrets([API_KEY, HEADER_TOKEN]);

  it('replaces exact secrets only', () => {
    expect(secrets.scrubExact(`{"content":"${API_KEY} and x${HEADER_TOKEN}y"}`)).toBe('{"content":"[redacted] and x[redacted]y"}');
    const cut = `{"content":"${API_KEY.slice(0, 26)}"}`;
    expect(secrets.scrubExact(cut)).toBe(cut);
  });

  it('hands back the very same string when there is no secret in it', () => {
    const chunk = '{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hello"}}]}';
    expect(secrets.scrubExact(chunk)).toBe(chunk);
    expect(Secrets.none.scrubExact(chunk)).toBe(chunk);
  });
});

describe('Secrets.identifier and requestId', () => {
  const secrets = new Secrets([API_KEY]);

  it('keeps plain codes, types and params', () => {
    for (const v of ['context_length_exceeded', 'rate_limit_exceeded', 'invalid_request_error', 'ThrottlingException', 'resource_exhausted', 'messages', 'tools[0].function.name', 'gpt-4o']) {
      expect(secrets.identifier(v)).toBe(v);
    }
  });

  it('drops secrets, pieces of them, random-looking tokens, long or odd values and non-strings', () => {
    for (const v of [API_KEY, API_KEY.slice(3, 15), `x${API_KEY}`, 'tok_9f8e7d6c5b4a39281706f5e4', 'a'.repeat(65), 'has space', 'quote"d', '', 42, null, undefined, {}]) {
      expect(secrets.identifier(v), String(v)).toBeUndefined();
    }
  });

  it('keeps request ids, random as they are, unless they hold a secret', () => {
    expect(secrets.requestId('req_0123456789abcdef0123456789abcdef')).toBe('req_0123456789abcdef0123456789abcdef');
    expect(secrets.requestId('b1d9-4f5c')).toBe('b1d9-4f5c');
    expect(secrets.requestId(API_KEY.slice(2))).toBeUndefined();
    expect(secrets.requestId('two words')).toBeUndefined();
    expect(secrets.requestId('x'.repeat(129))).toBeUndefined();
    expect(secrets.requestId(undefined)).toBeUndefined();
  });
});

describe('what counts as a secret', () => {
  it('a provider: api_key, AWS credentials, credential headers (and a Bearer token alone), URL passwords', () => {
    const p: ProviderConfig = {
      ...provider('openai'),
      headers: { Authorization: 'Bearer tok-abcdef123456', 'X-Api-Key': 'k-0123456789', 'OpenAI-Organization': 'org-public-name', 'x-short-token': 'abc' },
      proxy: 'http://user:pr%40xy-pass-99@proxy.local:8080',
      aws: AWS,
    };
    const values = providerSecretValues(p);
    expect(values).toEqual(expect.arrayContaining([API_KEY, ...Object.values(AWS), 'Bearer tok-abcdef123456', 'tok-abcdef123456', 'k-0123456789', 'pr%40xy-pass-99', 'pr@xy-pass-99']));
    expect(values).not.toContain('org-public-name');
    expect(values).not.toContain('abc');
    expect(secretsOf(p)).toBe(secretsOf(p));
  });

  it('a config: every provider', () => {
    const config = resolveConfig({
      providers: {
        a: { type: 'openai', api_key: API_KEY, base_url: 'http://127.0.0.1:1/v1' },
        b: { type: 'anthropic', api_key: HEADER_TOKEN, base_url: 'http://127.0.0.1:1' },
        c: { type: 'vllm', base_url: 'http://127.0.0.1:1/v1' },
      },
      models: { m: { targets: [{ provider: 'a', model: 'x' }] } },
    });
    const secrets = configSecrets(config);
    expect(secrets.size).toBe(2);
    expect(secrets.scrubUntrusted(`${API_KEY.slice(4)} ${HEADER_TOKEN.slice(0, 20)}`)).toBe('[redacted] [redacted]');
    expect(configSecrets(config)).toBe(secrets);
  });
});

describe('the logger, last fence', () => {
  const secrets = new Secrets([API_KEY]);
  const capture = () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    return { lines, sink };
  };

  it('scrubs every line pino writes of secrets, whole or in pieces', () => {
    const { lines, sink } = capture();
    const logger = createLogger({ level: 'info' } as never, sink, secrets);
    logger.info({ upstream: { message: `echo ${API_KEY.slice(2)}` } }, `saw ${API_KEY}`);
    logger.error({ err: new Error(`failed with ${API_KEY.slice(0, 26)}`) }, 'internal error');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).not.toMatch(/u8jzPde0|IgxLd6Gn|GncfBAep/);
      expect(() => JSON.parse(line)).not.toThrow();
    }
    expect(lines[0]).toContain('saw [redacted]');
  });

  it('the request line: pieces on a line with an error, exact secrets on any line; own and foreign loggers', () => {
    const own = capture();
    const foreign = capture();
    for (const [logger, out] of [
      [createLogger({ level: 'info' } as never, own.sink), own],
      [pino({ level: 'info' }, foreign.sink), foreign],
    ] as const) {
      const write = requestLineWriter(logger, secrets);
      write({ requestId: 'r1', error: { kind: 'server', message: `upstream said ${API_KEY.slice(3, 20)}` } }, 'request');
      write({ requestId: 'r2', attempts: [{ upstreamRequestId: API_KEY }], model: 'm' }, 'request');
      expect(out.lines).toHaveLength(2);
      const [failed, ok] = out.lines.map((l) => JSON.parse(l));
      expect(failed.error.message).toBe('upstream said [redacted]');
      expect(ok.attempts[0].upstreamRequestId).toBe(REDACTED);
      expect(ok).toMatchObject({ requestId: 'r2', model: 'm', msg: 'request' });
    }
  });
});

describe('the dialects, second fence', () => {
  it('show nothing key-shaped, and the code and param only when plain', () => {
    const err = new GatewayError('server', 'Upstream x failed: sk-live-0123456789abcdef', {
      code: 'sk-live-0123456789abcdef',
      param: 'tok_9f8e7d6c5b4a39281706f5e4',
    });
    const openai = JSON.parse(openAIErrorBody(err)).error;
    expect(openai).toEqual({ message: 'Upstream x failed: [redacted]', type: 'server_error', code: 'server', param: null });
    expect(JSON.parse(anthropicErrorJson(err)).error.message).toBe('Upstream x failed: [redacted]');
    const plain = new GatewayError('bad_request', 'Bad value', { code: 'invalid_value', param: 'messages[0].content' });
    expect(JSON.parse(openAIErrorBody(plain)).error).toMatchObject({ code: 'invalid_value', param: 'messages[0].content' });
  });
});
