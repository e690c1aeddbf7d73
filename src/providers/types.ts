import type { GatewayError } from '../errors.js';
import type { ProviderConfig } from '../config/types.js';
import type { Headers, UpstreamRequest } from '../transport/types.js';

export type { Headers, HeaderValue, UpstreamRequest } from '../transport/types.js';

/** What a client asked the gateway to do. `responses` is OpenAI's Responses API, passed through. */
export type Operation = 'chat' | 'embeddings' | 'responses';

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
  /** `event` names the SSE event when the wire uses named events (OpenAI Responses API). */
  | { type: 'chunk'; data: string; event?: string }
  | { type: 'done' }
  | { type: 'error'; error: GatewayError }
  /** An SSE comment line for the client (the gateway's own notes, e.g. that the stream was resumed). */
  | { type: 'comment'; text: string };

/** Turns one upstream SSE event into canonical events. Stateful per stream. */
export interface StreamDecoder {
  decode(frame: StreamFrame): StreamEvent[];
  /** Called once when the upstream stream ends without a terminal event; may emit final events. */
  end?(): StreamEvent[];
}

/** One frame of an upstream stream: an SSE event, or an AWS event-stream message (event type + JSON payload). */
export interface StreamFrame {
  event?: string | undefined;
  data: string;
}

/** Bounds on one upstream stream frame: a frame claiming more is a malformed upstream, never buffered. */
export interface FrameLimits {
  /** `streaming.max_event_bytes`: the most one event (its data, or a binary frame's payload) may hold. */
  maxEventBytes: number;
}

/** A provider is a pure translator: canonical ⇄ wire, and upstream errors → GatewayError. No I/O. */
export interface ProviderAdapter {
  /**
   * Splits the upstream stream body into frames; SSE when absent. Pure: it only transforms the bytes it is
   * given (Bedrock's binary event-stream framing lives here). A frame past `limits` fails the stream.
   */
  frames?(body: AsyncIterable<Buffer>, limits?: FrameLimits): AsyncIterable<StreamFrame>;
  /** Operations this provider cannot serve; the pipeline answers them with a clear 400 instead of calling. */
  unsupported?: readonly Operation[];
  /** `raw`: the client's JSON text of exactly `body`, for adapters that can send it with few edits. */
  buildRequest(op: Operation, body: Record<string, unknown>, deployment: Deployment, raw?: string): UpstreamRequest;
  /**
   * Validates an upstream success body and returns it in canonical (OpenAI) JSON text. `request` is the
   * canonical request, for answers shaped by it (embeddings as base64 when `encoding_format` asks).
   */
  parseResponse(op: Operation, bodyText: string, deployment: Deployment, request?: Record<string, unknown>): string;
  classifyError(status: number, headers: Headers, bodyText: string, deployment: Deployment): GatewayError;
  /** `request` is the canonical request, for choices that depend on it (e.g. usage only when include_usage). */
  createStreamDecoder(deployment: Deployment, request?: Record<string, unknown>): StreamDecoder;
}

/** The client's JSON text of one body object, valid only for that object (an edited body is a new object). */
export interface RawBody {
  of: Record<string, unknown>;
  text: string;
}
