import type { CancelSignal } from '../cancel.js';
import type { Transform } from '../config/types.js';
import type { GatewayError } from '../errors.js';
import type { RequestTrace } from '../observability/tracing.js';
import type { Operation, RawBody } from '../types.js';
import type { Route } from '../routing/routes.js';
import type { AttemptRecord } from './attempt.js';
import type { ResumeRecord } from './resume.js';
import type { StreamSink } from './sink.js';
import type { Feed } from './stream-attempt.js';
import type { Usage } from './transcript.js';

/** One client request as the engine sees it: already validated, in canonical (OpenAI) shape. */
export interface GatewayRequest {
  op: Operation;
  route: Route;
  body: Record<string, unknown>;
  stream: boolean;
  requestId: string;
  /** Aborted when the client goes away (or the gateway ends the request): a stream stops being read at once. */
  signal: CancelSignal;
  /** The client's `x-lifeline-timeout-ms`: can only lower the model's `total_ms`. */
  timeoutMs?: number;
  /** False when the client sent `x-lifeline-fallbacks: off`. */
  fallbacks?: boolean;
  /** The client's `x-lifeline-transforms`, on top of the model's own `transforms`. */
  transforms?: readonly Transform[];
  /** Size of the client's body in bytes: lets the context check skip counting a prompt that surely fits. */
  bodyBytes?: number;
  /** The client's JSON text of `body`: sent with few edits instead of re-serialising `body`, while unchanged. */
  raw?: RawBody;
  /** Streams (required): where the answer goes, from the first upstream's accept to its last event (sink.ts). */
  sink?: StreamSink;
  /** The request's span when tracing is on (observability/tracing.ts): each attempt adds its own under it. */
  trace?: RequestTrace | undefined;
}

export interface ResultMeta {
  deployment: string;
  attempts: AttemptRecord[];
  /** The fallback model that answered, when not the requested one. */
  fallback?: string;
  /** Streams: each time the upstream failed mid-answer, and where the answer continued. */
  resumes?: ResumeRecord[];
  /** The answer's usage (JSON: as the upstream reported it; streams: summed over resumed segments, counted with the tokenizer when not reported). */
  usage?: Usage;
  /** Streams: `performance.now()` when the first token was written (metrics: time to first token). */
  firstTokenAt?: number;
  /** What the context check changed in the request (middle-out, clamped max_tokens). */
  applied?: string[];
}

export type JsonResult = { type: 'json'; body: string; meta: ResultMeta };

/**
 * What `Pipeline.run` resolves with: a JSON answer; or, for a stream, once its last event has gone to the request's
 * sink (or the client went away), what it was.
 */
export type GatewayResult = JsonResult | { type: 'stream'; meta: ResultMeta };

/** One model's answer inside the pipeline: a JSON answer, or a committed stream whose head the sink has (its feed). */
export type ModelAnswer = JsonResult | { type: 'stream'; feed: Feed; meta: ResultMeta };

/** A GatewayError plus what was tried, so the server can still report attempts. */
export class PipelineFailure {
  constructor(
    readonly error: GatewayError,
    readonly attempts: AttemptRecord[],
  ) {}
}
