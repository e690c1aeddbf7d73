import type { StreamEvent } from '../types.js';

/** Who answers a stream, as far as it is known: what its response headers (or a comment line in it) can say. */
export interface StreamInfo {
  deployment: string;
  /** Attempts so far, this one included. */
  attempts: number;
  /** The fallback model that answers, when not the requested one. */
  fallback?: string;
  /** What the context check changed in the request (middle-out, clamped max_tokens). */
  applied?: string[];
}

/**
 * Where a streamed answer goes. The pipeline writes to it; the server implements it (the status and headers, the
 * heartbeats, the client's dialect, the socket). Data goes one way: the sink answers only with its backpressure.
 *
 * - `accepted`: an upstream accepted a stream attempt (its 2xx), before its first token; once per such attempt.
 * - `commit`: the answer commits on its first token; once, before its first event, naming who answers.
 * - `write`: the answer's events, in order, each once. First what was read up to the first token, in the same
 *   event-loop turn the token was read (the token with `now`: handed to the socket at once rather than at the end of
 *   the turn); then the rest as the upstream sends it; the last is `done` or an `error` event. False when the client
 *   is behind: the pipeline reads nothing more from the upstream until `drained()` resolves.
 *
 * A sink does not throw: what goes wrong on the client's side is the client's request ending (its signal).
 */
export interface StreamSink {
  accepted(info: StreamInfo): void;
  commit(info: StreamInfo): void;
  write(event: StreamEvent, now?: boolean): boolean;
  drained(): Promise<void>;
}
