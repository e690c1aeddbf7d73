/**
 * A per-deployment retry budget (Google SRE book, "Handling Overload": retries are allowed while they stay
 * under a fixed ratio of first attempts). A floor lets a quiet deployment still retry a little, so a single
 * failing request on an idle gateway is not refused its retry. Pure: time comes in as `now` (epoch ms).
 */

export interface RetryBudgetPolicy {
  /** Retries allowed per first attempt in the window (0.1 = 10 % extra load at most). */
  ratio: number;
  /** Retries always allowed per window, whatever the traffic. */
  min_per_window: number;
  /** Length of the sliding window, in seconds. */
  window_s: number;
}

export const DEFAULT_RETRY_BUDGET: RetryBudgetPolicy = Object.freeze({ ratio: 0.1, min_per_window: 10, window_s: 10 });

export interface RetryBudgetStats {
  attempts: number;
  retries: number;
}

function checkPolicy(policy: RetryBudgetPolicy): void {
  const { ratio, min_per_window: floor, window_s: window } = policy;
  if (!(Number.isFinite(ratio) && ratio >= 0)) throw new RangeError(`retry budget ratio must be >= 0, got ${ratio}`);
  if (!(Number.isFinite(floor) && floor >= 0)) {
    throw new RangeError(`retry budget min_per_window must be >= 0, got ${floor}`);
  }
  if (!(Number.isFinite(window) && window >= 1)) {
    throw new RangeError(`retry budget window_s must be >= 1, got ${window}`);
  }
}

/**
 * Sliding window of one-second buckets kept in a ring, with running totals: memory is O(window_s) and each
 * call is O(1) amortised (each elapsed second is expired once; a gap longer than the window clears the ring
 * in one step). Time that goes backwards is counted in the newest bucket rather than rewriting history.
 */
export class RetryBudget {
  readonly policy: RetryBudgetPolicy;
  private readonly size: number;
  private readonly attemptsBySlot: Float64Array;
  private readonly retriesBySlot: Float64Array;
  private attempts = 0;
  private retries = 0;
  /** The second (floor(now / 1000)) of the newest bucket; -Infinity before the first call. */
  private head = Number.NEGATIVE_INFINITY;

  constructor(policy: RetryBudgetPolicy = DEFAULT_RETRY_BUDGET) {
    checkPolicy(policy);
    this.policy = Object.freeze({ ...policy });
    this.size = Math.ceil(policy.window_s);
    this.attemptsBySlot = new Float64Array(this.size);
    this.retriesBySlot = new Float64Array(this.size);
  }

  /** Counts a first attempt (not a retry); first attempts are what earns retries. */
  recordAttempt(now: number): void {
    const slot = this.advance(now);
    this.attemptsBySlot[slot] += 1;
    this.attempts += 1;
  }

  /**
   * True, and the retry is counted, when the window's retries are below
   * `ratio × first attempts + min_per_window`; false (nothing counted) when the budget is spent.
   */
  tryRetry(now: number): boolean {
    const slot = this.advance(now);
    if (this.retries >= this.policy.ratio * this.attempts + this.policy.min_per_window) return false;
    this.retriesBySlot[slot] += 1;
    this.retries += 1;
    return true;
  }

  stats(now: number): RetryBudgetStats {
    this.advance(now);
    return { attempts: this.attempts, retries: this.retries };
  }

  /** Expires the buckets that slid out of the window by `now` and returns the slot of the current second. */
  private advance(now: number): number {
    const second = Math.floor(now / 1000);
    if (!Number.isFinite(second)) throw new RangeError(`retry budget needs a finite time, got ${now}`);
    if (second > this.head) {
      if (second - this.head >= this.size) {
        this.attemptsBySlot.fill(0);
        this.retriesBySlot.fill(0);
        this.attempts = 0;
        this.retries = 0;
      } else {
        for (let s = this.head + 1; s <= second; s++) {
          const slot = this.slotOf(s);
          this.attempts -= this.attemptsBySlot[slot];
          this.retries -= this.retriesBySlot[slot];
          this.attemptsBySlot[slot] = 0;
          this.retriesBySlot[slot] = 0;
        }
      }
      this.head = second;
    }
    return this.slotOf(this.head);
  }

  private slotOf(second: number): number {
    return ((second % this.size) + this.size) % this.size;
  }
}
