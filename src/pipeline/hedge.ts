import type { HedgeConfig } from '../config/types.js';

/** One contender in a hedged race. */
export interface Racer<T> {
  promise: Promise<T>;
  /** Stops it at once: the other one won. */
  abort(): void;
  /** Its outcome will not be used (it lost, or failed while the other went on): free and account for it. */
  dispose(outcome: { value: T } | { error: unknown }): void;
}

export type RaceResult<T> = { value: T; winner: 'primary' | 'hedge' };

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

const settle = <T>(p: Promise<T>): Promise<Settled<T>> =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

/**
 * Hedged request: the primary runs alone for `afterMs`; if it has not settled by then, `launchHedge` starts a
 * second contender (it may decline: no other healthy deployment, no budget). The first to succeed wins and the
 * other is aborted at once. A failure leaves the race to the other; when both fail the primary's error is
 * thrown, so the caller handles it as an ordinary failed attempt. The hedge's own failure or loss goes to its
 * `dispose`; the primary's loss to the primary's `dispose`.
 */
export async function race<T>(primary: Racer<T>, afterMs: number, launchHedge: () => Racer<T> | undefined): Promise<RaceResult<T>> {
  const first = settle(primary.promise);
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<'hedge'>((resolve) => {
    timer = setTimeout(() => resolve('hedge'), afterMs);
  });
  const early = await Promise.race([first, elapsed]);
  clearTimeout(timer);
  if (early !== 'hedge') {
    if (early.ok) return { value: early.value, winner: 'primary' };
    throw early.error;
  }
  const hedge = launchHedge();
  if (!hedge) return { value: await primary.promise, winner: 'primary' };
  const second = settle(hedge.promise);
  const winner = await Promise.race([first.then((s) => ({ s, who: 'primary' as const })), second.then((s) => ({ s, who: 'hedge' as const }))]);
  const [self, other, otherSettled] = winner.who === 'primary' ? [primary, hedge, second] : [hedge, primary, first];
  if (winner.s.ok) {
    other.abort();
    void otherSettled.then((s) => other.dispose(s.ok ? { value: s.value } : { error: s.error }));
    return { value: winner.s.value, winner: winner.who };
  }
  // The first to settle failed: the race is the other's.
  const rest = await otherSettled;
  if (rest.ok) {
    self.dispose({ error: winner.s.error });
    return { value: rest.value, winner: winner.who === 'primary' ? 'hedge' : 'primary' };
  }
  hedge.dispose({ error: winner.who === 'hedge' ? winner.s.error : rest.error });
  throw winner.who === 'primary' ? winner.s.error : rest.error;
}

/**
 * A model's recent times to first token, to hedge at a percentile of them. A ring of the last `size`
 * samples; the percentile is only trusted once `minSamples` are in.
 */
export class LatencyWindow {
  private readonly samples: number[] = [];
  private next = 0;

  constructor(
    private readonly size = 200,
    private readonly minSamples = 20,
  ) {}

  add(ms: number): void {
    if (this.samples.length < this.size) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.size;
  }

  /** The p-th percentile (nearest rank), or undefined with too few samples. */
  percentile(p: number): number | undefined {
    if (this.samples.length < this.minSamples) return undefined;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank];
  }
}

/** When to hedge a stream of this model, or undefined for "don't". */
export function hedgeDelay(hedge: HedgeConfig | undefined, window: LatencyWindow | undefined): number | undefined {
  if (!hedge) return undefined;
  if (hedge.after_percentile !== undefined) {
    const p = window?.percentile(hedge.after_percentile);
    if (p !== undefined) return Math.max(1, p);
  }
  return hedge.after_ms;
}
