/**
 * The canonical types every room speaks: what a client asked for, the one stream event shape, a deployment, and
 * the wire-level request transport/ sends and the response it gets back (`Upstream`, the seam between the
 * pipeline and transport/). Below everything but config/ (a deployment carries its provider's config) and
 * cancel.ts; no behaviour lives here.
 */
import type { CancelSignal } from './cancel.js';
import type { ProviderConfig, Timeouts } from './config/types.js';
import type { GatewayError } from './errors.js';

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

/** The client's JSON text of one body object, valid only for that object (an edited body is a new object). */
export interface RawBody {
  of: Record<string, unknown>;
  text: string;
}

export type HeaderValue = string | string[] | undefined;
export type Headers = Record<string, HeaderValue>;

/** A fully built upstream HTTP request; transport/ sends it as is. */
export interface UpstreamRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body: string | undefined;
}

/** One upstream call: the built request, where it goes, and how long each phase may take. */
export interface SendOptions {
  request: UpstreamRequest;
  provider: ProviderConfig;
  timeouts: Pick<Timeouts, 'connect_ms' | 'first_byte_ms' | 'idle_ms'>;
  /** Aborted when the request's deadline passes or its client goes away; its reason is rethrown. */
  signal: CancelSignal;
  /** Names the upstream in error messages, e.g. `Upstream openai-east/gpt-4o`. */
  label: string;
}

/** What a sent request resolves to: the upstream's status and headers, and its body. */
export interface UpstreamResponse {
  status: number;
  headers: Headers;
  /** The body, with the first-byte and idle timeouts enforced while it is read. Iterate it once. */
  body: AsyncIterable<Buffer>;
  /** Reads the whole body as text (bounded). */
  text(): Promise<string>;
  /** Drops the response and frees its connection. Safe to call more than once. */
  discard(): void;
}

/**
 * The one thing the pipeline needs from transport/: send a built request, get the upstream's answer or a
 * `GatewayError` (connection, timeout, the signal's reason). `transport/Transport` is the real one; the
 * decision-loop tests script one (test/unit/pipeline/decisions*.test.ts).
 */
export interface Upstream {
  send(opts: SendOptions): Promise<UpstreamResponse>;
}
