/**
 * Load-balancing strategies over a model's available deployments. Pure: the caller passes a snapshot of each
 * candidate (weight, in-flight count, latency) and a `rand` in [0, 1), so a seeded test checks the spread.
 */
import type { Strategy } from '../config/types.js';

export interface Candidate {
  id: string;
  /** Relative share of traffic; 0 only gets traffic when every remaining candidate has 0. */
  weight: number;
  /** Tier for `priority`: lower is tried first. */
  priority: number;
  inflight: number;
  /** Peak-EWMA time to first byte; undefined until the deployment has answered once. */
  latencyMs: number | undefined;
}

/**
 * What an unmeasured deployment with requests already in flight costs under `latency`: above any real
 * cost, so a new deployment gets one exploratory request at a time instead of every request until its first
 * answer (a cold, hung deployment would otherwise soak up all traffic). Finagle's P2C does the same.
 */
const COLD_BUSY_PENALTY = 1e12;

/** Index of the candidate to try next, or -1 when `candidates` is empty. All candidates passed in are available. */
export function pickCandidate(strategy: Strategy, candidates: readonly Candidate[], rand: () => number): number {
  if (candidates.length === 0) return -1;
  const all = candidates.map((_, i) => i);
  switch (strategy) {
    case 'weighted':
      return pickWeighted(candidates, all, rand);
    case 'least-busy':
      return pickLeastBusy(candidates, all, rand);
    case 'latency':
      return pickTwoChoices(candidates, all, rand);
    case 'priority':
      return pickWeighted(candidates, bestTier(candidates, all), rand);
    default:
      throw new RangeError(`unknown balancing strategy: ${String(strategy satisfies never)}`);
  }
}

/** Full try order: repeatedly pick among the remaining. */
export function orderCandidates(strategy: Strategy, candidates: readonly Candidate[], rand: () => number): Candidate[] {
  const remaining = [...candidates];
  const order: Candidate[] = [];
  while (remaining.length > 0) {
    const [next] = remaining.splice(pickCandidate(strategy, remaining, rand), 1);
    order.push(next);
  }
  return order;
}

function weightOf(c: Candidate): number {
  return Number.isFinite(c.weight) && c.weight > 0 ? c.weight : 0;
}

/** A draw in [0, 1) whatever the source returns, so a bad `rand` cannot index past the end. */
function unit(rand: () => number): number {
  const r = rand();
  return Number.isFinite(r) ? Math.min(Math.max(r, 0), 1 - Number.EPSILON) : 0;
}

/** One of `among` (indices into `candidates`, non-empty) with probability ∝ weight; uniform if all weigh 0. */
function pickWeighted(candidates: readonly Candidate[], among: readonly number[], rand: () => number): number {
  const total = among.reduce((sum, i) => sum + weightOf(candidates[i]), 0);
  if (total <= 0) return among[Math.floor(unit(rand) * among.length)];
  let r = unit(rand) * total;
  let last = among[0];
  for (const i of among) {
    const w = weightOf(candidates[i]);
    if (w <= 0) continue;
    if (r < w) return i;
    r -= w;
    last = i;
  }
  return last; // floating-point rounding left r a hair above the final weight
}

function pickLeastBusy(candidates: readonly Candidate[], among: readonly number[], rand: () => number): number {
  const fewest = Math.min(...among.map((i) => candidates[i].inflight));
  // Ties are the common case on a quiet gateway; breaking them by weight keeps the configured split.
  return pickWeighted(
    candidates,
    among.filter((i) => candidates[i].inflight === fewest),
    rand,
  );
}

/**
 * Power of two choices (Mitzenmacher): compare two random candidates instead of all, so a burst of
 * simultaneous picks does not all land on the one that looked best a moment ago.
 */
function pickTwoChoices(candidates: readonly Candidate[], among: readonly number[], rand: () => number): number {
  if (among.length === 1) return among[0];
  const a = pickWeighted(candidates, among, rand);
  const b = pickWeighted(
    candidates,
    among.filter((i) => i !== a),
    rand,
  );
  const costA = latencyCost(candidates[a]);
  const costB = latencyCost(candidates[b]);
  if (costA !== costB) return costA < costB ? a : b;
  return candidates[b].inflight < candidates[a].inflight ? b : a;
}

/** Expected wait if we add one more request: latency × (in flight + 1). Unmeasured and idle costs 0, to explore it. */
function latencyCost(c: Candidate): number {
  if (c.latencyMs === undefined) return c.inflight > 0 ? COLD_BUSY_PENALTY + c.inflight : 0;
  return c.latencyMs * (c.inflight + 1);
}

function tierOf(c: Candidate): number {
  return Number.isFinite(c.priority) ? c.priority : 1;
}

/** The candidates of the best (lowest-numbered) tier present: a later tier serves only when the earlier ones are all unavailable. */
function bestTier(candidates: readonly Candidate[], among: readonly number[]): number[] {
  const best = Math.min(...among.map((i) => tierOf(candidates[i])));
  return among.filter((i) => tierOf(candidates[i]) === best);
}
