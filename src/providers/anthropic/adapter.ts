/**
 * Anthropic's Messages API (`POST {base_url}/messages`, `x-api-key` + `anthropic-version`), translated to and
 * from the canonical OpenAI Chat Completions shape. Chat only: Anthropic has no embeddings or Responses API.
 * What is and is not translated is listed in request.ts.
 */
import { GatewayError } from '../../errors.js';
import { anthropicRequestId, classifyAnthropicError } from './errors.js';
import { buildAnthropicRequest } from './request.js';
import { parseAnthropicResponse } from './response.js';
import { AnthropicStreamDecoder } from './stream.js';
import type { Deployment, Operation } from '../../types.js';
import type { ProviderAdapter, StreamDecoder } from '../adapter.js';

function chatOnly(op: Operation, d: Deployment): void {
  if (op !== 'chat') {
    throw new GatewayError('bad_request', `Provider type anthropic cannot serve ${op}`, {
      code: 'unsupported_operation',
      deployment: d.id,
    });
  }
}

/**
 * Whether the stream should end with a usage chunk. Given the request, only when the client asked
 * (`stream_options.include_usage`), as OpenAI does; without it (the adapter interface does not pass the
 * request yet) always: the engine needs usage, and OpenAI's SDKs accept a `choices: []` chunk.
 */
export function wantsUsage(request: Record<string, unknown> | undefined): boolean {
  if (!request) return true;
  const options = request.stream_options;
  return typeof options === 'object' && options !== null && (options as { include_usage?: unknown }).include_usage === true;
}

export const anthropicProvider: ProviderAdapter = {
  unsupported: ['embeddings', 'responses'],
  buildRequest(op, body, d) {
    chatOnly(op, d);
    return buildAnthropicRequest(body, d);
  },
  parseResponse(op, bodyText, d) {
    chatOnly(op, d);
    return parseAnthropicResponse(bodyText, d);
  },
  classifyError: classifyAnthropicError,
  upstreamRequestId: anthropicRequestId,
  createStreamDecoder: (d: Deployment, request?: Record<string, unknown>): StreamDecoder =>
    new AnthropicStreamDecoder(d, { includeUsage: wantsUsage(request) }),
};
