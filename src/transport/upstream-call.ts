import type { Dispatcher } from 'undici';
import type { CancelSignal } from '../cancel.js';
import { GatewayError } from '../errors.js';
import type { Headers, UpstreamResponse } from '../types.js';
import { Watchdog } from './watchdog.js';

export interface CallTimeouts {
  first_byte_ms: number;
  idle_ms: number;
}

export type ErrorMapper = (err: unknown, reason: unknown) => GatewayError;

const MAX_BUFFERED_BODY = 64 * 1024 * 1024;
/** Body bytes queued for a reader that is behind before the socket is paused (undici's own Readable: 64 KB). */
const HIGH_WATER = 64 * 1024;

const DONE: IteratorResult<Buffer> = { done: true, value: undefined };

/**
 * One upstream request and its response, as an undici dispatch handler: no Readable, no async generator per
 * response. Body chunks are queued for the reader; a reader that is behind pauses the socket once
 * `HIGH_WATER` bytes wait (the upstream then feels TCP backpressure), and resumes it when it catches up.
 *
 * Idle time is measured only while the reader waits on the upstream, so a slow client (backpressure) never
 * looks like a stalled upstream.
 */
export class UpstreamCall implements Dispatcher.DispatchHandler, UpstreamResponse, AsyncIterator<Buffer> {
  status = 0;
  headers: Headers = {};
  private readonly dog: Watchdog;
  private abortUpstream: ((reason: unknown) => void) | undefined;
  private aborted = false;
  private reason: unknown;
  /** The request is over for us: completed, failed, or discarded. */
  private finished = false;
  private discarded = false;
  private started = false;
  private error: GatewayError | undefined;
  private queue: Buffer[] = [];
  private queued = 0;
  private resumeSocket: (() => void) | undefined;
  private paused = false;
  private waiter: { resolve: (r: IteratorResult<Buffer>) => void; reject: (e: unknown) => void } | undefined;
  private whole: { resolve: (text: string) => void; reject: (e: unknown) => void; parts: Buffer[]; size: number } | undefined;

  constructor(
    timeouts: CallTimeouts,
    private readonly what: string,
    private readonly signal: CancelSignal,
    private readonly mapError: ErrorMapper,
    private readonly settle: { resolve: (res: UpstreamResponse) => void; reject: (err: GatewayError) => void },
  ) {
    this.dog = new Watchdog(timeouts.first_byte_ms, timeouts.idle_ms, what, (err) => this.abort(err));
    signal.addEventListener('abort', this.onOuterAbort, { once: true });
  }

  // ---- undici's handler side ----

  onConnect(abort: (reason?: Error) => void): void {
    this.abortUpstream = abort as (reason: unknown) => void;
    if (this.aborted) abort(this.reason as Error); // aborted while queued: already reported
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[] | null, resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx: the real answer follows
    this.status = statusCode;
    this.headers = rawHeaders ? parseRawHeaders(rawHeaders) : {};
    this.resumeSocket = resume;
    this.started = true;
    this.settle.resolve(this);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.finished) return false;
    this.dog.chunk();
    const whole = this.whole;
    if (whole) {
      this.dog.wait();
      whole.size += chunk.length;
      if (whole.size > MAX_BUFFERED_BODY) {
        this.abort(new GatewayError('server', `${this.what} sent a response larger than ${MAX_BUFFERED_BODY} bytes`));
        return false;
      }
      whole.parts.push(chunk);
      return true;
    }
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter.resolve({ value: chunk, done: false });
      return true;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued >= HIGH_WATER) this.paused = true;
    return !this.paused;
  }

  onComplete(): void {
    if (this.finished) return;
    this.finish();
    const whole = this.whole;
    if (whole) {
      this.whole = undefined;
      whole.resolve(textOf(whole.parts, whole.size));
      return;
    }
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve(DONE);
  }

  onError(err: Error): void {
    if (this.finished) return;
    const error = this.mapError(err, this.dog.error ?? (this.aborted ? this.reason : undefined));
    this.finish();
    if (!this.started) {
      this.settle.reject(error);
      return;
    }
    const whole = this.whole;
    if (whole) {
      this.whole = undefined;
      whole.reject(error);
      return;
    }
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter.reject(error);
    } else this.error = error; // thrown once the reader has taken what was queued before it
  }

  // ---- the response side ----

  get body(): AsyncIterable<Buffer> {
    return { [Symbol.asyncIterator]: () => this };
  }

  next(): Promise<IteratorResult<Buffer>> {
    const chunk = this.queue.shift();
    if (chunk !== undefined) {
      this.queued -= chunk.length;
      if (this.paused && this.queued < HIGH_WATER / 4) {
        this.paused = false;
        this.resumeSocket?.();
      }
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.error) {
      const error = this.error;
      this.error = undefined;
      this.discarded = true;
      return Promise.reject(error);
    }
    if (this.finished) return Promise.resolve(DONE);
    this.dog.wait();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<Buffer>> {
    this.discard();
    return Promise.resolve(DONE);
  }

  text(): Promise<string> {
    const parts = this.queue;
    const size = this.queued;
    this.queue = [];
    this.queued = 0;
    if (this.error) {
      const error = this.error;
      this.error = undefined;
      return Promise.reject(error);
    }
    if (this.finished) return this.discarded ? Promise.resolve('') : Promise.resolve(textOf(parts, size));
    this.dog.wait();
    const whole = new Promise<string>((resolve, reject) => {
      this.whole = { resolve, reject, parts, size };
    });
    if (this.paused) {
      this.paused = false;
      this.resumeSocket?.();
    }
    return whole;
  }

  discard(): void {
    if (this.discarded) return;
    this.discarded = true;
    this.queue = [];
    this.queued = 0;
    const { waiter, whole } = this;
    this.waiter = undefined;
    this.whole = undefined;
    if (!this.finished) {
      // Finished first, so the error undici reports for this abort is not taken for the response's own.
      const reason = new GatewayError('connection', `${this.what}: response discarded`, { code: 'aborted', retryable: false });
      this.finish();
      this.aborted = true;
      this.reason = reason;
      this.abortUpstream?.(reason); // not connected yet: onConnect aborts it
      whole?.reject(reason);
    }
    waiter?.resolve(DONE);
  }

  /** Stops the request with `reason` (the upstream's socket is closed); its error then reports that reason. */
  abort(reason: unknown): void {
    if (this.aborted || this.finished) return;
    this.aborted = true;
    this.reason = reason;
    if (this.abortUpstream) this.abortUpstream(reason);
    else {
      // Not connected yet (queued for a connection): undici would only see the abort once it connects.
      this.finish();
      this.settle.reject(this.mapError(undefined, reason));
    }
  }

  private readonly onOuterAbort = (): void => this.abort(this.signal.reason);

  private finish(): void {
    this.finished = true;
    this.dog.stop();
    this.signal.removeEventListener('abort', this.onOuterAbort);
  }
}

function textOf(parts: Buffer[], size: number): string {
  if (parts.length === 0) return '';
  return parts.length === 1 ? (parts[0] as Buffer).toString('utf8') : Buffer.concat(parts, size).toString('utf8');
}

/** undici's raw header list (HTTP/1: Buffers; HTTP/2: strings or arrays) → lower-cased names, repeats as arrays. */
export function parseRawHeaders(raw: ReadonlyArray<Buffer | string | ReadonlyArray<Buffer | string>>): Headers {
  const out: Headers = Object.create(null) as Headers;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = latin1(raw[i] as Buffer | string).toLowerCase();
    const value = raw[i + 1] as Buffer | string | ReadonlyArray<Buffer | string>;
    if (Array.isArray(value)) for (const v of value) add(out, name, latin1(v));
    else add(out, name, latin1(value as Buffer | string));
  }
  return out;
}

function add(out: Headers, name: string, value: string): void {
  const had = out[name];
  if (had === undefined) out[name] = value;
  else if (Array.isArray(had)) had.push(value);
  else out[name] = [had, value];
}

function latin1(v: Buffer | string): string {
  return typeof v === 'string' ? v : v.toString('latin1');
}
