import type { GatewayError } from '../errors.js';
import type { Deployment, FrameLimits, Headers, Operation, StreamEvent, StreamFrame, UpstreamRequest } from '../types.js';

/** Turns one upstream SSE event into canonical events. Stateful per stream. */
export interface StreamDecoder {
  decode(frame: StreamFrame): StreamEvent[];
  /** Called once when the upstream stream ends without a terminal event; may emit final events. */
  end?(): StreamEvent[];
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
  /**
   * `raw`: the client's JSON text of exactly `body`, for adapters that can send it with few edits. A chat stream
   * must report its usage (the gateway accounts for every stream): an upstream that reports it only when asked is
   * asked here (the OpenAI wire's `stream_options.include_usage`), whatever the client asked.
   */
  buildRequest(op: Operation, body: Record<string, unknown>, deployment: Deployment, raw?: string): UpstreamRequest;
  /**
   * Validates an upstream success body and returns it in canonical (OpenAI) JSON text. `request` is the
   * canonical request, for answers shaped by it (embeddings as base64 when `encoding_format` asks).
   */
  parseResponse(op: Operation, bodyText: string, deployment: Deployment, request?: Record<string, unknown>): string;
  classifyError(status: number, headers: Headers, bodyText: string, deployment: Deployment): GatewayError;
  /**
   * The upstream's request id, from the response header its API puts it in (OpenAI `x-request-id`, Anthropic
   * `request-id`, AWS `x-amzn-requestid`); as sent, the caller vets it. `classifyError` takes it from the same place.
   */
  upstreamRequestId(headers: Headers): string | undefined;
  /**
   * Whether the deployment can continue a partial answer (prefill), which resuming a stream needs, when this
   * provider's models differ (Bedrock: the catalog's word per model); undefined, or absent, leaves it to the
   * provider's `supports_prefill` (its type's default). Not asked when the config sets `supports_prefill`.
   */
  canPrefill?(deployment: Deployment): boolean | undefined;
  /**
   * A chat stream's decoder ends with the answer's usage, as a usage-only chunk (`choices: []`) or on the last
   * chunk, before `done`; whether the client sees a usage-only chunk is its dialect's business (server/dialects).
   */
  createStreamDecoder(deployment: Deployment): StreamDecoder;
  /**
   * The deployment's synthetic probe (pipeline/probes.ts): the cheapest request that shows the upstream answers
   * with this key, an unbilled list of models (OpenAI-wire `GET {base_url}/models`, Anthropic `GET /v1/models`,
   * Gemini `GET /v1beta/models`). Absent where the API has none free (Bedrock): such a provider is probed only
   * when its config asks for `probe: chat` (a one-token chat, billed). Its failure is classified by `classifyError`.
   */
  probeRequest?(deployment: Deployment): UpstreamRequest;
}
