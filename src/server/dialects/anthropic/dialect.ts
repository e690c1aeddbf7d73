import type { IngressDialect } from '../../ingress.js';
import { parseAnthropicRequest } from './request.js';
import { anthropicErrorHeaders, anthropicErrorJson, renderAnthropicMessage } from './shape.js';
import { AnthropicStreamWriter } from './stream.js';

/**
 * The Anthropic Messages dialect (`POST /v1/messages`): an Anthropic-SDK client can use any configured model,
 * whatever its provider, through the same pipeline as an OpenAI client. The request is translated into the
 * canonical (OpenAI) shape on the way in; answers, stream events and errors are translated back on the way out.
 *
 * Made per request so that its errors and streams carry the request id the way Anthropic's do (`request-id`
 * header, `request_id` in error bodies), which the SDKs surface as `requestID`.
 *
 * The client's key (`x-api-key` or `Authorization: Bearer`) is never part of the canonical request: the
 * pipeline only sees the body, and providers authenticate with their configured keys.
 */
export function anthropicMessages(requestId?: string): IngressDialect {
  return {
    op: 'chat',
    parse: parseAnthropicRequest,
    renderJson: renderAnthropicMessage,
    streamWriter: () => new AnthropicStreamWriter(requestId),
    errorBody: (err) => anthropicErrorJson(err, requestId),
    errorHeaders: (err) => anthropicErrorHeaders(err, requestId),
  };
}

/**
 * The key an Anthropic client presented: `x-api-key` (what the Anthropic SDKs send) or a Bearer token (what
 * `authToken` clients send). Not checked yet — virtual keys will be — and never forwarded upstream.
 */
export function anthropicClientKey(headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const apiKey = first(headers['x-api-key'])?.trim();
  if (apiKey) return apiKey;
  const bearer = /^Bearer\s+(.+)$/i.exec(first(headers.authorization)?.trim() ?? '');
  return bearer?.[1]?.trim() || undefined;
}
