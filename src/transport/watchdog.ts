import { GatewayError } from '../errors.js';

/**
 * The first-byte and idle timeouts of one upstream response. Idle time is measured only while we are
 * waiting on the upstream, so a slow client (backpressure) never looks like a stalled upstream.
 * One timer per response, re-armed lazily: per-chunk cost is a clock read and two assignments.
 */
export class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private waiting = true;
  private waitSince: number;
  private fired: GatewayError | undefined;

  constructor(
    private readonly firstByteMs: number,
    private readonly idleMs: number,
    private readonly what: string,
    private readonly onFire: (err: GatewayError) => void,
  ) {
    this.waitSince = performance.now();
    this.timer = setTimeout(this.check, firstByteMs);
  }

  /** The error this watchdog raised, if it fired. */
  get error(): GatewayError | undefined {
    return this.fired;
  }

  /** A body chunk arrived. */
  chunk(): void {
    if (!this.started && this.timer && this.idleMs < this.firstByteMs) {
      // The pending check was set for the (longer) first-byte limit; the idle limit applies from now on.
      clearTimeout(this.timer);
      this.timer = setTimeout(this.check, this.idleMs);
    }
    this.started = true;
    this.waiting = false;
  }

  /** We are about to wait for the next chunk. */
  wait(): void {
    this.waiting = true;
    this.waitSince = performance.now();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly check = (): void => {
    this.timer = undefined;
    const limit = this.started ? this.idleMs : this.firstByteMs;
    const waited = this.waiting ? performance.now() - this.waitSince : 0;
    if (this.waiting && waited >= limit - 1) {
      this.fired = this.started
        ? new GatewayError('timeout', `${this.what} sent nothing for ${this.idleMs} ms mid-response (idle timeout)`, {
            code: 'idle_timeout',
          })
        : new GatewayError('timeout', `${this.what} sent no response within ${this.firstByteMs} ms (first-byte timeout)`, {
            code: 'first_byte_timeout',
          });
      this.onFire(this.fired);
      return;
    }
    this.timer = setTimeout(this.check, Math.max(1, limit - waited));
  };
}
