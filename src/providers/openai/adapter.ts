import type { Deployment, Operation, UpstreamRequest } from '../../types.js';
import type { ProviderAdapter } from '../adapter.js';
import { malformed } from '../shared/errors.js';
import { withModel } from '../shared/raw-json.js';
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


/** An adapter for any host that speaks OpenAI's wire format, given where it lives and how it authenticates. */
export function openAICompatible(wire: OpenAIWire = OPENAI_WIRE): ProviderAdapter {
  return {
    buildRequest: (op, body, d, raw) => buildOpenAIRequest(op, body, d, wire, raw),
    parseResponse: parseOpenAIResponse,
    classifyError: classifyOpenAIError,
    upstreamRequestId: openAIRequestId,
    createStreamDecoder: (d) => new OpenAIStreamDecoder(d),
  };
}

export const openaiProvider: ProviderAdapter = openAICompatible();
