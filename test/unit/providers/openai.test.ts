import { describe, expect, it } from 'vitest';
import { buildOpenAIRequest, openaiProvider } from '../../../src/providers/openai/adapter.js';
import { classifyOpenAIError } from '../../../src/providers/openai/errors.js';
import { kindForStatus } from '../../../src/providers/shared/errors.js';
import { Secrets } from '../../../src/secrets.js';
import { parseRetryAfter, parseRetryAfterValue } from '../../../src/resilience/retry-hints.js';
import { deployment, providerConfig } from '../../support/fixtures.js';

const provider = providerConfig({
  name: 'east',
  type: 'openai',
  api_key: 'sk-east-0123456789abcdef',
  base_url: 'https://api.example.com/v1',
  headers: { 'OpenAI-Organization': 'org-1' },
});
const d = deployment(provider, 'gpt-4o');

describe('openai provider: requests', () => {
  it('swaps the model, keeps every other field, sets the provider key', () => {
    const body = { model: 'client-name', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function' }], seed: 1 };
    const req = buildOpenAIRequest('chat', body, d);
    expect(req.url).toBe('https://api.example.com/v1/chat/completions');
    expect(req.headers.authorization).toBe('Bearer sk-east-0123456789abcdef');
    expect(req.headers['OpenAI-Organization']).toBe('org-1');
    expect(JSON.parse(req.body!)).toEqual({ ...body, model: 'gpt-4o' });
    expect(body.model).toBe('client-name'); // the client's object is not mutated
    expect(buildOpenAIRequest('embeddings', { model: 'x', input: 'a' }, d).url).toBe('https://api.example.com/v1/embeddings');
  });

  it('sends no Authorization when the provider has no key', () => {
    const req = buildOpenAIRequest('chat', { model: 'x' }, { ...d, provider: { ...provider, api_key: undefined } });
    expect(req.headers.authorization).toBeUndefined();
  });

  it('accepts a valid body as is and rejects a malformed one as a retryable server error', () => {
    const ok = '{"choices":[]}';
    expect(openaiProvider.parseResponse('chat', ok, d)).toBe(ok);
    expect(() => openaiProvider.parseResponse('chat', '<html>', d)).toThrow(/not JSON/);
    expect(() => openaiProvider.parseResponse('embeddings', '{"choices":[]}', d)).toThrow(/"data"/);
    try {
      openaiProvider.parseResponse('chat', '{}', d);
    } catch (e) {
      expect(e).toMatchObject({ kind: 'server', retryable: true });
    }
  });
});

describe('openai provider: usage on streams (the gateway accounts for every stream)', () => {
  const chat = { model: 'client-name', messages: [{ role: 'user', content: 'x' }], stream: true };
  const sentBody = (op: 'chat' | 'responses', body: Record<string, unknown>, raw?: string) =>
    JSON.parse(buildOpenAIRequest(op, body, d, undefined, raw).body!) as Record<string, unknown>;

  it('asks for usage on a chat stream, keeping the client’s other stream_options; nothing else asks', () => {
    expect(sentBody('chat', chat).stream_options).toEqual({ include_usage: true });
    const options = { include_usage: false, include_obfuscation: false };
    expect(sentBody('chat', { ...chat, stream_options: options }).stream_options).toEqual({ include_usage: true, include_obfuscation: false });
    expect(sentBody('chat', { ...chat, stream: false })).not.toHaveProperty('stream_options');
    expect(sentBody('responses', { model: 'x', input: 'hi', stream: true })).not.toHaveProperty('stream_options');
  });

  it('adds it to the client’s own text as its last member, and sends a text that already asks as it is', () => {
    const raw = '{"model":"client-name","stream":true,"messages":[{"role":"user","content":"x"}]}';
    const text = buildOpenAIRequest('chat', JSON.parse(raw), d, undefined, raw).body!;
    expect(text.startsWith('{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"x"}]')).toBe(true);
    expect(JSON.parse(text)).toEqual({ ...JSON.parse(raw), model: 'gpt-4o', stream_options: { include_usage: true } });
    const asks = '{"model":"client-name","stream":true,"stream_options":{"include_usage":true},"messages":[]}';
    expect(buildOpenAIRequest('chat', JSON.parse(asks), d, undefined, asks).body).toBe(asks.replace('client-name', 'gpt-4o'));
  });
});

describe('openai provider: error classification', () => {
  const body = (code: string, message = 'm') => JSON.stringify({ error: { message, type: 'x', code, param: null } });
  it.each([
    [429, '', 'rate_limited', true],
    [500, '', 'server', true],
    [502, '', 'server', true],
    [503, '', 'overloaded', true],
    [529, '', 'overloaded', true],
    [504, '', 'server', true],
    [408, '', 'timeout', true],
    [400, 'context_length_exceeded', 'context_length', false],
    [400, 'content_filter', 'content_policy', false],
    [400, '', 'bad_request', false],
    [401, '', 'auth', false],
    [403, '', 'auth', false],
    [404, '', 'not_found', false],
  ])('%i %s → %s', (status, code, kind, retryable) => {
    const err = classifyOpenAIError(status, {}, body(code), d);
    expect(err.kind).toBe(kind);
    expect(err.retryable).toBe(retryable);
    expect(err.upstreamStatus).toBe(status);
    expect(err.deployment).toBe('east/gpt-4o');
  });

  it('recognises context-length errors by message', () => {
    expect(kindForStatus(400, '', "This model's maximum context length is 128000 tokens")).toBe('context_length');
  });

  it('reads retry hints and the upstream request id', () => {
    const err = classifyOpenAIError(429, { 'retry-after-ms': '1500', 'x-request-id': 'req_1' }, body(''), d);
    expect(err.retryAfterMs).toBe(1500);
    expect(err.upstreamRequestId).toBe('req_1');
    expect(err.status).toBe(429);
  });

  it('x-should-retry overrides the default', () => {
    expect(classifyOpenAIError(500, { 'x-should-retry': 'false' }, '', d).retryable).toBe(false);
    expect(classifyOpenAIError(400, { 'x-should-retry': 'true' }, '', d).retryable).toBe(true);
  });

  it('never shows the provider key, and hides upstream auth messages entirely', () => {
    const leak = body('invalid_api_key', 'Incorrect API key provided: sk-east-0123456789abcdef');
    const err = classifyOpenAIError(401, {}, leak, d);
    expect(err.message).not.toContain('sk-east');
    expect(err.status).toBe(502);
    const other = classifyOpenAIError(400, {}, body('', 'bad key sk-east-0123456789abcdef here'), d);
    expect(other.message).not.toContain('0123456789abcdef');
    expect(Secrets.none.scrubUntrusted('x sk-proj-AAAAAAAAAAAAAAAA y')).toBe('x [redacted] y');
  });

  it('survives a non-JSON error body', () => {
    const err = classifyOpenAIError(502, {}, '<html>Bad Gateway</html>', d);
    expect(err.kind).toBe('server');
    expect(err.message).toContain('502');
  });
});

describe('retry-after parsing', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('prefers retry-after-ms', () => {
    expect(parseRetryAfter({ 'retry-after-ms': '600', 'retry-after': '5' }, now)).toBe(600);
  });
  it('reads delta-seconds, fractional seconds and HTTP dates', () => {
    expect(parseRetryAfter({ 'retry-after': '1' }, now)).toBe(1000);
    expect(parseRetryAfterValue('0.5', now)).toBe(500);
    expect(parseRetryAfterValue('Thu, 01 Jan 2026 00:00:03 GMT', now)).toBe(3000);
    expect(parseRetryAfterValue('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
  });
  it('ignores garbage', () => {
    expect(parseRetryAfter({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after-ms': '-5' }, now)).toBeUndefined();
    expect(parseRetryAfter({}, now)).toBeUndefined();
  });
});

describe('openai stream decoder', () => {
  it('passes chunks through as text, recognises [DONE] and error events', () => {
    const dec = openaiProvider.createStreamDecoder(d);
    const chunk = '{"id":"1","choices":[{"index":0,"delta":{"content":"\\"error\\""}}]}';
    expect(dec.decode({ data: chunk })).toEqual([{ type: 'chunk', data: chunk }]);
    expect(dec.decode({ data: '{"choices":[{"delta":{"content":"error"}}]}' })[0]?.type).toBe('chunk');
    const [e] = dec.decode({ data: '{"error":{"message":"overloaded","code":"server_error"}}' });
    expect(e?.type).toBe('error');
    expect(dec.decode({ data: '[DONE]' })).toEqual([{ type: 'done' }]);
  });
});
