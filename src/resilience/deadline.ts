import { Cancel, type CancelSignal } from '../cancel.js';
import { GatewayError } from '../errors.js';

/**
 * A request's time budget. Its signal aborts at the deadline or when the client goes away, so every
 * attempt, backoff sleep and fallback spends from the same clock.
 */
export class Deadline {
  readonly at: number;
  private readonly ac = new Cancel();
  private readonly timer: NodeJS.Timeout;
  private readonly onClientAbort = (): void =>
    this.ac.abort(new GatewayError('connection', 'The client closed the request', { code: 'client_closed', retryable: false }));

  constructor(
    readonly totalMs: number,
    private readonly client: CancelSignal,
  ) {
    this.at = Date.now() + totalMs;
    this.timer = setTimeout(() => this.ac.abort(this.expiredError()), totalMs);
    if (client.aborted) this.onClientAbort();
    else client.addEventListener('abort', this.onClientAbort, { once: true });
  }

  get signal(): CancelSignal {
    return this.ac.signal;
  }

  /** Milliseconds left (never negative). */
  remaining(now: number = Date.now()): number {
    return Math.max(0, this.at - now);
  }

  expiredError(): GatewayError {
    return new GatewayError('timeout', `The request took longer than ${this.totalMs} ms (total timeout)`, {
      code: 'total_timeout',
      retryable: false,
    });
  }

  release(): void {
    clearTimeout(this.timer);
    this.client.removeEventListener('abort', this.onClientAbort);
  }
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal: CancelSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
