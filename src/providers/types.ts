import type { GatewayError } from '../errors.js';
import type { ProviderConfig } from '../config/types.js';
import type { Headers, UpstreamRequest } from '../transport/types.js';

export type { Headers, HeaderValue, UpstreamRequest } from '../transport/types.js';

/** What a client asked the gateway to do. */
export type Operation = 'chat' | 'embeddings';

/** One place a model can be served from: a provider account plus the model name it knows. */
export interface Deployment {
  /** `provider/model`, used in logs, headers and health state. */
  readonly id: string;
  readonly provider: ProviderConfig;
  readonly model: string;
}


/**
 * A canonical stream event. `data` is the JSON text of an OpenAI `chat.completion.chunk`;
 * kept as text so an OpenAI-compatible upstream's chunks pass through without re-serializing.
 */
export type StreamEvent =
  | { type: 'chunk'; data: string }
  | { type: 'done' }
  | { type: 'error'; error: GatewayError };

/** Turns one upstream SSE event into canonical events. Stateful per stream. */
export interface StreamDecoder {
  decode(event: { event?: string | undefined; data: string }): StreamEvent[];
}

/** A provider is a pure translator: canonical ⇄ wire, and upstream errors → GatewayError. No I/O. */
export interface ProviderAdapter {
  buildRequest(op: Operation, body: Record<string, unknown>, deployment: Deployment): UpstreamRequest;
  /** Validates an upstream success body and returns it in canonical (OpenAI) JSON text. */
  parseResponse(op: Operation, bodyText: string, deployment: Deployment): string;
  classifyError(status: number, headers: Headers, bodyText: string, deployment: Deployment): GatewayError;
  createStreamDecoder(deployment: Deployment): StreamDecoder;
}
