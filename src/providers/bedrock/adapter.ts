/**
 * Amazon Bedrock through the Converse API (`/model/{id}/converse`, `/converse-stream`): one wire format for
 * every model family Bedrock hosts. Requests are SigV4-signed with the provider's AWS credentials; streams are
 * AWS event-stream binary frames, not SSE. Embeddings and the Responses API have no Converse equivalent.
 */
import { lookupModel } from '../../accounting/catalog.js';
import { GatewayError } from '../../errors.js';
import { bedrockRequestId, classifyBedrockError } from './errors.js';
import { eventStreamFrames } from './eventstream.js';
import { toConverseRequest } from './request.js';
import { parseConverseResponse } from './response.js';
import { regionFromHost, signRequest } from './sigv4.js';
import { BedrockStreamDecoder } from './stream.js';
import type { Deployment, Operation, UpstreamRequest } from '../../types.js';
import type { ProviderAdapter } from '../adapter.js';

/** Used only when neither the config nor the endpoint's host names a region (a custom base_url without one). */
const FALLBACK_REGION = 'us-east-1';

export function bedrockUrl(d: Deployment, stream: boolean): string {
  return `${d.provider.base_url}/model/${encodeURIComponent(d.model)}/${stream ? 'converse-stream' : 'converse'}`;
}

/** The Converse request for a chat body, signed as of `now` (epoch ms). */
export function buildBedrockRequest(body: Record<string, unknown>, d: Deployment, now: number): UpstreamRequest {
  const credentials = d.provider.aws;
  if (!credentials) {
    // The config loader refuses a bedrock provider without credentials; this guards direct library use.
    throw new GatewayError('internal', `Provider "${d.provider.name}" has no AWS credentials`, { deployment: d.id });
  }
  const url = bedrockUrl(d, body.stream === true);
  const payload = JSON.stringify(toConverseRequest(body));
  const headers = signRequest({
    method: 'POST',
    url,
    headers: { ...d.provider.headers, 'content-type': 'application/json' },
    body: payload,
    region: d.provider.region ?? regionFromHost(new URL(url).hostname) ?? FALLBACK_REGION,
    service: 'bedrock',
    credentials,
    date: new Date(now),
  });
  return { url, method: 'POST', headers, body: payload };
}

export const bedrockProvider: ProviderAdapter = {
  unsupported: ['embeddings', 'responses'],
  frames: eventStreamFrames,
  buildRequest(op: Operation, body, d) {
    if (op !== 'chat') {
      throw new GatewayError('bad_request', `Bedrock does not support ${op}`, { code: 'unsupported_operation', deployment: d.id });
    }
    return buildBedrockRequest(body, d, Date.now());
  },
  parseResponse: (_op, bodyText, d) => parseConverseResponse(bodyText, d),
  classifyError: classifyBedrockError,
  upstreamRequestId: bedrockRequestId,
  // Bedrock hosts many vendors' models behind one wire: Claude continues a prefill, Llama, Titan, … do not.
  canPrefill: (d) => lookupModel(d.provider.type, d.model)?.capabilities.prefill,
  createStreamDecoder: (d) => new BedrockStreamDecoder(d),
};
