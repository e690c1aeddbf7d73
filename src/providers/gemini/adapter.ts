/**
 * Google's Gemini API (generateContent, streamGenerateContent with `alt=sse`, batchEmbedContents), translated
 * from and to the canonical OpenAI shapes. The key travels in `x-goog-api-key`, never in the URL, where it would
 * end up in proxy and access logs.
 */
import { buildGeminiEmbeddings, toEmbeddingsResponse } from './embeddings.js';
import { classifyGeminiError, geminiRequestId } from './errors.js';
import { badRequest, buildGeminiChat } from './request.js';
import { toChatCompletion } from './response.js';
import { GeminiStreamDecoder } from './stream.js';
import type { Deployment, Operation, UpstreamRequest } from '../../types.js';
import type { ProviderAdapter } from '../adapter.js';

/** `${base_url}/models/<model>:<method>`; a target may name the model with or without `models/`. */
export function geminiUrl(d: Deployment, method: string): string {
  const model = d.model.replace(/^models\//, '');
  return `${d.provider.base_url}/models/${encodeURIComponent(model)}:${method}`;
}

function buildRequest(op: Operation, body: Record<string, unknown>, d: Deployment): UpstreamRequest {
  let url: string;
  let payload: Record<string, unknown>;
  if (op === 'embeddings') {
    url = geminiUrl(d, 'batchEmbedContents');
    payload = buildGeminiEmbeddings(body, d);
  } else if (op === 'chat') {
    url = geminiUrl(d, body.stream === true ? 'streamGenerateContent?alt=sse' : 'generateContent');
    payload = buildGeminiChat(body, d);
  } else {
    throw badRequest(d, 'Gemini has no Responses API');
  }
  const auth: Record<string, string> = d.provider.api_key ? { 'x-goog-api-key': d.provider.api_key } : {};
  return {
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...d.provider.headers, ...auth },
    body: JSON.stringify(payload),
  };
}

export const geminiProvider: ProviderAdapter = {
  unsupported: ['responses'],
  buildRequest,
  parseResponse: (op, bodyText, d, request) =>
    op === 'embeddings' ? toEmbeddingsResponse(bodyText, d, request) : toChatCompletion(bodyText, d),
  classifyError: classifyGeminiError,
  upstreamRequestId: geminiRequestId,
  createStreamDecoder: (d) => new GeminiStreamDecoder(d),
  // `GET /v1beta/models`: free, and it checks the key.
  probeRequest: (d) => ({
    url: `${d.provider.base_url}/models?pageSize=1`,
    method: 'GET',
    headers: { ...d.provider.headers, ...(d.provider.api_key ? { 'x-goog-api-key': d.provider.api_key } : {}) },
    body: undefined,
  }),
};
