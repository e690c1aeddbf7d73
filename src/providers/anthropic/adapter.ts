/**
 * Anthropic's Messages API (`POST {base_url}/messages`, `x-api-key` + `anthropic-version`), translated to and
 * from the canonical OpenAI Chat Completions shape. Chat only: Anthropic has no embeddings or Responses API.
 * What is and is not translated is listed in request.ts.
 */
import { GatewayError } from '../../errors.js';
import { anthropicRequestId, classifyAnthropicError } from './errors.js';
import { anthropicHeaders, buildAnthropicRequest } from './request.js';
import { parseAnthropicResponse } from './response.js';
import { AnthropicStreamDecoder } from './stream.js';
import type { Deployment, Operation } from '../../types.js';
import type { ProviderAdapter } from '../adapter.js';

function chatOnly(op: Operation, d: Deployment): void {
  if (op !== 'chat') {
    throw new GatewayError('bad_request', `Provider type anthropic cannot serve ${op}`, {
      code: 'unsupported_operation',
      deployment: d.id,
    });
  }
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
  createStreamDecoder: (d) => new AnthropicStreamDecoder(d),
  // `GET /v1/models`: free, and it checks the key.
  probeRequest: (d) => ({ url: `${d.provider.base_url}/models?limit=1`, method: 'GET', headers: anthropicHeaders(d), body: undefined }),
};
