import type { GatewayError } from '../errors.js';
import type { StreamInfo, StreamSink } from '../pipeline/index.js';
import type { StreamEvent } from '../types.js';
import type { Exchange } from './adapters/exchange.js';
import { metaHeaders } from './headers.js';
import type { StreamWriter } from './ingress.js';
import type { RequestContext } from './respond.js';

export interface StreamResponseOptions {
  /** `streaming.heartbeat_ms`: the longest silence before the first token, and between events after it. */
  heartbeatMs: number;
  /** `streaming.hold_headers`: the status and headers wait for the first token. */
  holdHeaders: boolean;
  /** While the gateway drains, a response asks the client not to reuse its connection. */
  isDraining: () => boolean;
}

/**
 * One streamed answer on its way to the client: the pipeline's StreamSink. It owns the response's status and
 * headers, its heartbeats, and the answer's events in the client's dialect, written with the client's backpressure.
 *
 * Unless held (`streaming.hold_headers`), the status and headers go out when an upstream accepts the stream, naming
 * it; or, when none has within heartbeat_ms (retries, Retry-After waits, an upstream slow to answer), at that
 * moment, naming none. Heartbeats keep the connection alive from then on. When the answer commits on another
 * deployment than the headers named (a failover, a hedge), or they named none, a comment line names who answers
 * before the first token. Held, or when the pipeline fails before any of that, the status is decided at commit (the
 * headers go with the first token) or by the failure (`fail`: its own status).
 */
export class StreamResponse implements StreamSink {
  /** Set once the status and headers are out. */
  private heartbeat: Heartbeat | undefined;
  /** The deployment the headers named. */
  private named: string | undefined;
  private silence: ReturnType<typeof setTimeout> | undefined;
  /** Ended (its last event, or the gateway's shutdown): nothing more is written. */
  private over = false;
  /** Why the status could not be sent at commit: the request was ended with it. */
  broken: unknown;
  /**
   * The head's text, from commit to the write that hands it over (`now`, the first token): one write, one chunk of
   * the HTTP body, instead of one per event (a write costs 15-50 µs on a cold path).
   */
  private held: string | undefined;

  constructor(
    private readonly ex: Exchange,
    private readonly ctx: RequestContext,
    private readonly writer: StreamWriter,
    private readonly o: StreamResponseOptions,
  ) {
    if (!o.holdHeaders) this.silence = setTimeout(this.onSilence, o.heartbeatMs);
  }

  accepted(info: StreamInfo): void {
    if (this.o.holdHeaders || this.heartbeat || this.gone()) return;
    try {
      this.open(info, true);
    } catch {
      // Nothing went out: the answer (or the error) sets the status when it comes.
    }
  }

  commit(info: StreamInfo): void {
    if (this.gone()) return;
    this.held = '';
    if (this.heartbeat) {
      // The headers named the deployment that accepted first (or none); a failover or a hedge since then is told here,
      // before the first token and in the same write.
      if (info.deployment !== this.named) {
        const headers = { 'x-request-id': this.ctx.requestId, ...metaHeaders(info) };
        this.held = sseComment(Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('; '));
      }
      return;
    }
    try {
      this.open(info, false); // the headers go with the first token
    } catch (err) {
      // The answer cannot be sent: the request ends, which stops the pipeline; the app answers the error if it can.
      this.over = true;
      this.broken = err;
      this.ctx.cancel?.abort(err);
    }
  }

  write(e: StreamEvent, now?: boolean): boolean {
    if (this.over || !this.heartbeat || this.ex.signal.aborted) return true;
    switch (e.type) {
      case 'chunk': {
        const text = this.writer.chunk(e);
        return (text === '' && !now) || this.send(text, now);
      }
      case 'comment':
        return this.send(sseComment(e.text), now);
      case 'done':
        this.end(this.writer.done());
        return true;
      default:
        this.ctx.error = e.error;
        this.end(this.writer.error(e.error));
        return true;
    }
  }

  drained(): Promise<void> {
    return this.ex.drained().then(this.caughtUp);
  }

  /**
   * The pipeline failed. With the status out, the stream ends with the error as its last event (true); else nothing
   * was sent (false), and the caller answers with the error's own status.
   */
  fail(err: GatewayError): boolean {
    clearTimeout(this.silence);
    if (!this.heartbeat) return false;
    if (!this.over) {
      this.ctx.error = err;
      this.end(this.writer.error(err));
    }
    return true;
  }

  /** The gateway's shutdown ends the stream: its error event, logged as what it is (the client did not go away). */
  stop(err: GatewayError): void {
    this.ctx.error = err;
    this.ctx.status = err.status;
    this.end(this.writer.error(err));
  }

  /** The pipeline is done with the stream: timers stop, and a response not ended yet (its client left) is ended. */
  close(): void {
    clearTimeout(this.silence);
    if (this.heartbeat && !this.over) this.end(undefined);
  }

  private open(info: StreamInfo | undefined, flush: boolean): void {
    clearTimeout(this.silence); // from now on heartbeats keep the connection alive (and off the first token's path)
    const headers = { ...this.writer.headers, 'x-request-id': this.ctx.requestId, ...(info ? metaHeaders(info) : {}) };
    this.ex.start(200, headers, this.o.isDraining(), flush);
    this.ctx.status = 200;
    this.ctx.stream = this;
    this.named = info?.deployment;
    this.heartbeat = new Heartbeat(this.ex, this.o.heartbeatMs);
  }

  private send(text: string, now: boolean | undefined): boolean {
    if (this.held !== undefined) {
      if (!now) {
        this.held += text;
        return true;
      }
      text = this.held + text;
      this.held = undefined;
      if (text === '') return true;
    }
    const heartbeat = this.heartbeat!;
    heartbeat.wrote();
    if (this.ex.write(text, now)) return true;
    heartbeat.draining = true;
    return false;
  }

  private end(text: string | undefined): void {
    this.over = true;
    this.heartbeat?.stop();
    this.ctx.stream = undefined; // over: a shutdown from now on finds nothing to end
    const held = this.held ?? '';
    this.held = undefined;
    this.ex.end(held === '' ? text : held + (text ?? ''));
  }

  private gone(): boolean {
    return this.over || this.ex.signal.aborted || this.ctx.stopped === true;
  }

  private readonly onSilence = (): void => {
    if (this.heartbeat || this.gone()) return;
    try {
      this.open(undefined, true);
    } catch {
      // Nothing went out: the pipeline's own answer (or its error) is still to come, with the status then.
    }
  };

  private readonly caughtUp = (): void => {
    if (this.heartbeat) this.heartbeat.draining = false;
  };
}

const HEARTBEAT = ': keep-alive\n\n';

/**
 * An SSE comment whenever nothing has been written for `ms`, so proxies and load balancers don't cut a stream
 * whose upstream is thinking. One timer per stream, not per chunk: each time it fires it is set again for `ms` after
 * the last write (a fixed interval would leave up to twice `ms` of silence after a write just past a tick), and it
 * never writes while the client is behind (`draining`).
 */
export class Heartbeat {
  private lastWrite = performance.now();
  draining = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly ex: Exchange,
    private readonly ms: number,
  ) {
    this.timer = setTimeout(this.tick, ms);
  }

  private readonly tick = (): void => {
    if (this.timer === undefined) return;
    const silent = performance.now() - this.lastWrite;
    let next = this.ms - silent;
    if (next <= 5) {
      if (!this.draining && !this.ex.signal.aborted) {
        this.lastWrite = performance.now();
        this.ex.write(HEARTBEAT);
      }
      next = this.ms;
    }
    this.timer = setTimeout(this.tick, next);
  };

  /** Something else was written just now. */
  wrote(): void {
    this.lastWrite = performance.now();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** An SSE comment line (clients ignore it; a person reading the stream sees it). */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}
