import { GatewayError, type ErrorKind } from '../../errors.js';
import { Secrets, secretsOf } from '../../secrets.js';
import { clientStatus, malformed, parseUpstreamJson } from '../shared/upstream.js';
import { StreamShapeCheck } from './stream.js';
import { withModel } from '../shared/raw-json.js';
import { header, retryHintMs, shouldRetryHeader } from '../../resilience/retry-hints.js';
import type { Deployment, Headers, Operation, StreamEvent, UpstreamRequest } from '../../types.js';
import type { ProviderAdapter, StreamDecoder } from '../adapter.js';

/**
 * OpenAI Chat Completions and any host that speaks it. The canonical model *is* this wire format, so
 * requests only get the target's model name, and responses and chunks pass through as text.
 */

const PATHS: Record<Operation, string> = { chat: '/chat/completions', embeddings: '/embeddings', responses: '/responses' };

/** Where an OpenAI-compatible host puts an operation, how it wants to be authenticated, and what it accepts. */
export interface OpenAIWire {
  /** `body` is the request as it will be sent (after `adapt`). */
  url(op: Operation, d: Deployment, body: Record<string, unknown>): string;
  auth(d: Deployment): Record<string, string>;
  /**
   * The body as this host accepts it (see providers/presets/adapter.ts): the same object when nothing changes, so that
   * the client's own text can go as is.
   */
  adapt?(op: Operation, body: Record<string, unknown>): Record<string, unknown>;
}

export const OPENAI_WIRE: OpenAIWire = {
  url: (op, d) => d.provider.base_url + PATHS[op],
  auth: (d): Record<string, string> => (d.provider.api_key ? { authorization: `Bearer ${d.provider.api_key}` } : {}),
};

export function buildOpenAIRequest(
  op: Operation,
  body: Record<string, unknown>,
  d: Deployment,
  wire: OpenAIWire = OPENAI_WIRE,
  raw?: string,
): UpstreamRequest {
  const sent = wire.adapt?.(op, body) ?? body;
  return {
    url: wire.url(op, d, sent),
    method: 'POST',
    headers: { 'content-type': 'application/json', ...d.provider.headers, ...wire.auth(d) },
    // The client's own text (model swapped) is exact only for the body it was parsed into.
    body: (sent === body && raw !== undefined ? withModel(raw, d.model) : undefined) ?? serialise(sent, d),
  };
}

function serialise(body: Record<string, unknown>, d: Deployment): string {
  // Spread keeps every field the client sent (tools, response_format, seed, …) untouched.
  return JSON.stringify({ ...body, model: d.model });
}

const RESPONSE_FIELD: Record<Operation, string> = { chat: 'choices', embeddings: 'data', responses: 'output' };

export function parseOpenAIResponse(op: Operation, bodyText: string, d: Deployment): string {
  const parsed = parseUpstreamJson(bodyText, d);
  const field = RESPONSE_FIELD[op];
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as Record<string, unknown>)[field])) {
    throw malformed(d, `JSON without a "${field}" array`);
  }
  return bodyText;
}


interface WireError {
  message?: unknown;
  type?: unknown;
  code?: unknown;
  param?: unknown;
}

function readWireError(bodyText: string): WireError {
  try {
    const parsed = JSON.parse(bodyText) as { error?: unknown };
    if (parsed && typeof parsed === 'object' && parsed.error && typeof parsed.error === 'object') {
      return parsed.error as WireError;
    }
    if (parsed && typeof parsed === 'object') return parsed as WireError;
  } catch {
    // Not JSON (an HTML error page from a proxy, say): classification falls back to the status.
  }
  return {};
}

const CONTEXT_RE = /context[_ ]length|maximum context|context window|too many tokens|prompt is too long/i;
const POLICY_CODES = new Set(['content_filter', 'content_policy_violation']);

/** Maps an upstream status + error body to an error kind. Pure; shared by OpenAI-compatible providers. */
export function kindForStatus(status: number, code: string, message: string): ErrorKind {
  if (status === 400 || status === 422) {
    if (code === 'context_length_exceeded' || CONTEXT_RE.test(message)) return 'context_length';
    if (POLICY_CODES.has(code)) return 'content_policy';
    return 'bad_request';
  }
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not_found';
  if (status === 408) return 'timeout';
  if (status === 409) return 'server'; // OpenAI: lock contention; safe to retry
  if (status === 413) return code === 'context_length_exceeded' ? 'context_length' : 'bad_request';
  if (status === 429) return 'rate_limited';
  if (status === 503 || status === 529) return 'overloaded';
  if (status >= 500) return 'server';
  return 'bad_request';
}


/**
 * Everything in an upstream error is untrusted (an upstream may echo the key it was sent in any field): the raw
 * code and message only classify; what is kept is scrubbed of the provider's secrets, and the code and param only
 * when they are plain identifiers.
 */
export function classifyOpenAIError(status: number, headers: Headers, bodyText: string, d: Deployment): GatewayError {
  const wire = readWireError(bodyText);
  const secrets = secretsOf(d.provider);
  const rawMessage = typeof wire.message === 'string' ? wire.message : '';
  const kind = kindForStatus(status, typeof wire.code === 'string' ? wire.code : '', rawMessage);
  const retryable = shouldRetry(headers, kind);
  return new GatewayError(kind, `Upstream ${d.id} answered ${status}: ${describe(kind, rawMessage, d)}`, {
    status: clientStatus(kind, status),
    code: secrets.identifier(wire.code),
    param: secrets.identifier(wire.param),
    ...(retryable === undefined ? {} : { retryable }),
    retryAfterMs: retryHintMs(headers),
    upstreamRequestId: secrets.requestId(header(headers, 'x-request-id')),
    upstreamStatus: status,
    deployment: d.id,
  });
}

function shouldRetry(headers: Headers, kind: ErrorKind): boolean | undefined {
  const hint = shouldRetryHeader(headers);
  if (hint !== undefined) return hint;
  return kind === 'rate_limited' || kind === 'overloaded' || kind === 'server' || kind === 'timeout'
    ? true
    : undefined;
}

function describe(kind: ErrorKind, message: string, d: Deployment): string {
  // An upstream auth message may echo part of the key; never show it.
  if (kind === 'auth') return `the upstream rejected the credentials configured for provider "${d.provider.name}"`;
  return secretsOf(d.provider).scrubUntrusted(message) || kind.replace('_', ' ');
}

/** Removes `apiKey` (whole or any long piece of it) and anything shaped like an API key from `text`. */
export function redactSecrets(text: string, apiKey: string | undefined): string {
  return new Secrets([apiKey]).scrubUntrusted(text);
}

class OpenAIStreamDecoder implements StreamDecoder {
  /** Events that are not what the API promises are a malformed upstream, never relayed (see stream.ts). */
  private readonly chunks = new StreamShapeCheck('chunk');
  private readonly named = new StreamShapeCheck('event');

  constructor(private readonly d: Deployment) {}

  decode(event: { event?: string | undefined; data: string }): StreamEvent[] {
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
      const error = streamError(data, this.d);
      if (error) return [{ type: 'error', error }];
    }
    return this.checked(this.chunks.problem(data)) ?? [{ type: 'chunk', data }];
  }

  private checked(problem: string | undefined): StreamEvent[] | undefined {
    return problem === undefined ? undefined : [{ type: 'error', error: malformed(this.d, problem) }];
  }
}

function streamError(data: string, d: Deployment): GatewayError | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || !('error' in parsed)) return undefined;
  const wire = ((parsed as { error: unknown }).error ?? {}) as WireError;
  const secrets = secretsOf(d.provider);
  const message = typeof wire.message === 'string' ? wire.message : 'stream error';
  const kind = wire.code === 'rate_limit_exceeded' ? 'rate_limited' : 'server';
  return new GatewayError(kind, `Upstream ${d.id} sent an error mid-stream: ${secrets.scrubUntrusted(message)}`, {
    code: secrets.identifier(wire.code) ?? 'upstream_stream_error',
    deployment: d.id,
  });
}

const RESPONSES_END = new Set(['response.completed', 'response.incomplete']);

function responsesEvent(name: string, data: string, d: Deployment): StreamEvent[] {
  if (name === 'error' || name === 'response.failed') {
    return [{ type: 'error', error: streamError(`{"error":${name === 'error' ? data : JSON.stringify(safeParse(data)?.response?.error ?? {})}}`, d) ?? malformed(d, 'a failed response') }];
  }
  const chunk: StreamEvent = { type: 'chunk', event: name, data };
  return RESPONSES_END.has(name) ? [chunk, { type: 'done' }] : [chunk];
}

function safeParse(text: string): { response?: { error?: unknown } } | undefined {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** An adapter for any host that speaks OpenAI's wire format, given where it lives and how it authenticates. */
export function openAICompatible(wire: OpenAIWire = OPENAI_WIRE): ProviderAdapter {
  return {
    buildRequest: (op, body, d, raw) => buildOpenAIRequest(op, body, d, wire, raw),
    parseResponse: parseOpenAIResponse,
    classifyError: classifyOpenAIError,
    createStreamDecoder: (d) => new OpenAIStreamDecoder(d),
  };
}

export const openaiProvider: ProviderAdapter = openAICompatible();
