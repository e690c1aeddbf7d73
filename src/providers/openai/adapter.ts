import type { Deployment, Operation, UpstreamRequest } from '../../types.js';
import type { ProviderAdapter } from '../adapter.js';
import { malformed } from '../shared/errors.js';
import { withField, withModel } from '../shared/raw-json.js';
import { parseUpstreamJson } from '../shared/response.js';
import { classifyOpenAIError, openAIRequestId } from './errors.js';
import { OpenAIStreamDecoder } from './stream.js';

/**
 * OpenAI Chat Completions (and Embeddings, Responses) and any host that speaks it. The canonical model *is* this
 * wire format, so requests only get the target's model name, and responses and chunks pass through as text.
 * Errors: errors.ts; streams: stream.ts. Azure and the presets are this adapter with another `OpenAIWire`.
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
  /** Where the host lists its models (the synthetic probe); default `{base_url}/models`. */
  modelsUrl?(d: Deployment): string;
}

export const OPENAI_WIRE: OpenAIWire = {
  url: (op, d) => d.provider.base_url + PATHS[op],
  auth: (d): Record<string, string> => (d.provider.api_key ? { authorization: `Bearer ${d.provider.api_key}` } : {}),
};

export function buildOpenAIRequest(
  op: Operation,
  request: Record<string, unknown>,
  d: Deployment,
  wire: OpenAIWire = OPENAI_WIRE,
  clientText?: string,
): UpstreamRequest {
  const { body, raw } = op === 'chat' && request.stream === true ? askForUsage(request, clientText) : { body: request, raw: clientText };
  const sent = wire.adapt?.(op, body) ?? body;
  return {
    url: wire.url(op, d, sent),
    method: 'POST',
    headers: { 'content-type': 'application/json', ...d.provider.headers, ...wire.auth(d) },
    // The client's own text (model swapped) is exact only for the body it was parsed into.
    body: (sent === body && raw !== undefined ? withModel(raw, d.model) : undefined) ?? serialise(sent, d),
  };
}

/**
 * A chat stream reports its usage only when asked (`stream_options.include_usage`), and the gateway accounts for
 * every stream: the stream is asked whatever the client asked (a host that reports usage unasked and refuses the
 * field, Mistral, drops it in its quirks). Whether the client sees the usage chunk is its dialect's business
 * (server/dialects/openai). The client's text, when it has no `stream_options`, gets the field as its last member.
 */
function askForUsage(body: Record<string, unknown>, raw: string | undefined): { body: Record<string, unknown>; raw: string | undefined } {
  const options = body.stream_options as Record<string, unknown> | undefined;
  if (options?.include_usage === true) return { body, raw };
  const asked = { ...body, stream_options: { ...options, include_usage: true } };
  const text = raw === undefined || 'stream_options' in body ? undefined : withField(raw, 'stream_options', '{"include_usage":true}');
  return { body: asked, raw: text };
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


/** An adapter for any host that speaks OpenAI's wire format, given where it lives and how it authenticates. */
export function openAICompatible(wire: OpenAIWire = OPENAI_WIRE): ProviderAdapter {
  return {
    buildRequest: (op, body, d, raw) => buildOpenAIRequest(op, body, d, wire, raw),
    parseResponse: parseOpenAIResponse,
    classifyError: classifyOpenAIError,
    upstreamRequestId: openAIRequestId,
    createStreamDecoder: (d) => new OpenAIStreamDecoder(d),
    probeRequest: (d) => ({
      url: wire.modelsUrl?.(d) ?? `${d.provider.base_url}/models`,
      method: 'GET',
      headers: { ...d.provider.headers, ...wire.auth(d) },
      body: undefined,
    }),
  };
}

export const openaiProvider: ProviderAdapter = openAICompatible();
