import type { CancelSignal } from '../cancel.js';
import type { Transform } from '../config/types.js';
import type { GatewayError } from '../errors.js';
import type { Operation, RawBody, StreamEvent } from '../types.js';
import type { Route } from '../routing/routes.js';
import type { AttemptRecord } from './attempt.js';
import type { ResumeRecord } from './resume.js';
import type { Usage } from './transcript.js';

/** One client request as the engine sees it: already validated, in canonical (OpenAI) shape. */
export interface GatewayRequest {
  op: Operation;
  route: Route;
  body: Record<string, unknown>;
  stream: boolean;
  requestId: string;
  /** Aborted when the client goes away. */
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
  /** Streams: called each time an upstream accepts a stream attempt (its 2xx), before its first token. */
  onStreamAccepted?: (info: StreamAccepted) => void;
  /**
   * Streams: called once, synchronously, when the answer's first segment commits (its first token is read), with
   * the events read so far (the first token last) and the deployment. The same events then open the result's
   * stream: a caller that writes them here (as they are: a first segment passes unchanged) skips them there.
   * Not called when the model hedges (two attempts could commit together).
   */
  onFirstToken?: (head: readonly StreamEvent[], deployment: string) => void;
}

/** What is known when an upstream accepts a stream: what the response headers can say before the first token. */
export interface StreamAccepted {
  deployment: string;
  /** Attempts so far, this one included. */
  attempts: number;
  fallback?: string;
  applied?: string[];
}

export interface ResultMeta {
  deployment: string;
  attempts: AttemptRecord[];
  /** The fallback model that answered, when not the requested one. */
  fallback?: string;
  /** Streams: each time the upstream failed mid-answer, and where the answer continued. */
  resumes?: ResumeRecord[];
  /** Streams: the answer's usage, summed over resumed segments; counted with the tokenizer when not reported. */
  usage?: Usage;
  /** What the context check changed in the request (middle-out, clamped max_tokens). */
  applied?: string[];
}

export type GatewayResult =
  | { type: 'json'; body: string; meta: ResultMeta }
  | {
      type: 'stream';
      events: AsyncIterable<StreamEvent>;
      meta: ResultMeta;
      /** Frees the upstream and the deployment's slot if `events` will never be read (idempotent). */
      cancel(): void;
    };

/** A GatewayError plus what was tried, so the server can still report attempts. */
export class PipelineFailure {
  constructor(
    readonly error: GatewayError,
    readonly attempts: AttemptRecord[],
  ) {}
}
