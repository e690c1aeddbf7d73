import type { CancelSignal } from '../../cancel.js';

/**
 * One HTTP request/response, independent of where it came from: node:http (the server) or a WHATWG
 * Request (the in-process `gateway.fetch`). The app only ever talks to this.
 */
export interface Exchange {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /** Lower-cased names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Content-Length as declared by the client, when it declared one. */
  readonly declaredLength: number | undefined;
  readonly body: AsyncIterable<Uint8Array>;
  /** Aborted when the client goes away before the response is complete. */
  readonly signal: CancelSignal;
  /**
   * Sets status and headers; they go out with the first write, or at once with `flush` (a stream whose first
   * bytes come later). `closeConnection` asks the adapter not to keep the connection alive.
   */
  start(status: number, headers: Record<string, string>, closeConnection?: boolean, flush?: boolean): void;
  /**
   * Returns false when the client is not keeping up; wait for `drained()` before writing more. Bytes written in
   * one event-loop turn normally leave together at its end; `now` hands them (and any before them) to the socket
   * at once, for a chunk that must not wait for the rest of the turn's work (a stream's first token).
   */
  write(chunk: string, now?: boolean): boolean;
  drained(): Promise<void>;
  /** Ends the response; once it is ended, `write` and `end` do nothing. */
  end(chunk?: string): void;
  /**
   * True while the response waits behind an earlier one on the same connection (an HTTP/1.1 pipelined request):
   * a draining gateway answers it 503 at once rather than let it hold the drain open. Absent: never.
   */
  queued?(): boolean;
}
