/**
 * Per-deployment health: a circuit breaker, upstream-imposed cooldowns and a latency estimate. Pure: time comes
 * in as `now` (epoch ms) and nothing here sets a timer, so every transition is tested without sockets or waits.
 * State is per process; the pipeline reads it before choosing deployments and feeds it after each attempt.
 */
import type { ErrorKind } from '../errors.js';
import { DeploymentStats, type FailureDetail, type ProbeResult } from './stats.js';

export interface HealthPolicy {
  failure_threshold: number; // consecutive failures that open the breaker
  failure_ratio: number; // or: failure ratio over the window that opens it...
  min_requests: number; // ...once at least this many outcomes are in the window
  window_s: number; // sliding window for the ratio, kept as per-second buckets in a ring
  cooldown_s: number; // how long the breaker stays open before a half-open probe
}

export const DEFAULT_HEALTH_POLICY: HealthPolicy = Object.freeze({
  failure_threshold: 5, failure_ratio: 0.5, min_requests: 10, window_s: 30, cooldown_s: 30,
});

export type HealthState = 'healthy' | 'open' | 'half_open' | 'cooling_down' | 'rate_limited' | 'disabled';

/**
 * A change of a deployment's circuit breaker, or of its being in rotation, as it happens: the assembly passes a
 * listener that logs it (routing logs nothing itself). `half_open` is told when the trial request is let through.
 */
export interface HealthTransition {
  deployment: string;
  to: 'open' | 'half_open' | 'closed' | 'disabled' | 'enabled';
  reason?: string;
}

export type TransitionListener = (t: HealthTransition) => void;

export interface Availability {
  available: boolean;
  state: HealthState;
  /** Epoch ms when it may be available again (absent if available or disabled). */
  until?: number;
  reason?: string;
}

/** Kinds that say something about the deployment rather than the request. */
const BREAKER_KINDS: ReadonlySet<ErrorKind> = new Set(['server', 'overloaded', 'timeout', 'connection']);

/**
 * After a 429 that carried no hint, how long new requests go to other deployments first. No wait is imposed: a fixed
 * one released every request that met the 429 at the same instant; the request's own retry backs off with full
 * jitter instead, as after a 5xx, within the retry budget.
 */
const THROTTLE_MS = 1000;

/**
 * The resolution of an upstream's wait hint: `Retry-After` is whole seconds, so answers of one burst a few ms apart
 * name the same moment give or take this much (see `extendHold`).
 */
const HINT_RESOLUTION_MS = 1000;

/** Time constant of the latency decay (Finagle's default for peak-EWMA). */
const LATENCY_TAU_MS = 10_000;

function checkPolicy(p: HealthPolicy): void {
  const whole = (n: number) => Number.isInteger(n) && n >= 1;
  const ok = whole(p.failure_threshold) && whole(p.min_requests) && p.failure_ratio > 0 && p.failure_ratio <= 1;
  if (!ok || !(p.window_s >= 1 && p.cooldown_s >= 0 && Number.isFinite(p.window_s + p.cooldown_s))) {
    throw new RangeError(`invalid health policy: ${JSON.stringify(p)}`);
  }
}

/**
 * Outcomes of the last `window_s` seconds in a ring of one-second buckets: memory is O(window) however busy
 * the deployment is, and a bucket is reused (reset) when its second comes round again.
 */
class OutcomeWindow {
  private readonly buckets: Array<{ second: number; total: number; failures: number }>;

  constructor(windowS: number) {
    this.buckets = Array.from({ length: Math.ceil(windowS) }, () => ({ second: -1, total: 0, failures: 0 }));
  }

  add(now: number, failed: boolean): void {
    const second = Math.floor(now / 1000);
    const n = this.buckets.length;
    const bucket = this.buckets[((second % n) + n) % n];
    if (bucket.second !== second) Object.assign(bucket, { second, total: 0, failures: 0 });
    bucket.total += 1;
    if (failed) bucket.failures += 1;
  }

  counts(now: number): { total: number; failures: number } {
    const oldest = Math.floor(now / 1000) - this.buckets.length;
    let total = 0;
    let failures = 0;
    for (const b of this.buckets) {
      if (b.second <= oldest) continue;
      total += b.total;
      failures += b.failures;
    }
    return { total, failures };
  }

  clear(): void {
    for (const b of this.buckets) b.second = -1;
  }
}

/** A wait imposed from outside the breaker; only ever extended, since a shorter hint does not cancel a longer one. */
interface Hold {
  until: number;
  reason: string;
}

function longer(current: Hold | undefined, until: number, reason: string): Hold {
  return current && current.until >= until ? current : { until, reason };
}

/**
 * An upstream's wait hint from a failed attempt, against the hold in force. While a hold is in force no attempt
 * starts (tryAcquire refuses), so a hint arriving then comes from an attempt that was already in flight when the
 * hold was learned: the same burst. Its "Retry-After: 2", read a few ms later, names the same reset within the
 * header's resolution; letting it push the hold on would make one cooldown a receding one, and the requests
 * waiting for it would wake to find it moved. So it extends the hold only when it reaches more than
 * HINT_RESOLUTION_MS further (a later absolute date, a longer window): news the first answer did not carry.
 * Once the hold has passed, the next hint is a new cooldown, whatever its length.
 */
function extendHold(current: Hold | undefined, now: number, until: number, reason: string): Hold {
  if (!current || now >= current.until) return { until, reason };
  return until > current.until + HINT_RESOLUTION_MS ? { until, reason } : current;
}

/** The same breaker settings (a config's `health` section carries more, e.g. the probe interval, that do not matter here). */
function samePolicy(a: HealthPolicy, b: HealthPolicy): boolean {
  const keys: (keyof HealthPolicy)[] = ['failure_threshold', 'failure_ratio', 'min_requests', 'window_s', 'cooldown_s'];
  return keys.every((k) => a[k] === b[k]);
}

export class DeploymentHealth {
  readonly id: string;
  readonly policy: HealthPolicy;
  private inflightCount = 0;
  private disabledReason: string | undefined;
  /** When the breaker opened; undefined while closed. Half-open is "opened, and the cooldown has passed". */
  private openedAt: number | undefined;
  private openReason = '';
  private probeOut = false;
  private consecutiveFailures = 0;
  private readonly window: OutcomeWindow;
  /** 429 Retry-After and exhausted rate-limit headers: "too many requests", so the pipeline can answer 429. */
  private rateLimit: Hold | undefined;
  /** Retry-After on a 5xx-class failure: the upstream is down for a while, not merely throttling us. */
  private cooldown: Hold | undefined;
  /** A 429 without a hint: until then new requests prefer other deployments (see THROTTLE_MS). */
  private throttledUntil = 0;
  private latencyMs: number | undefined;
  private latencyAt = 0;
  /** What /admin/deployments shows besides the breaker (stats.ts); handed on across a reload like the rest. */
  stats = new DeploymentStats();
  /** Told of each transition (HealthRegistry.listen). */
  listener: TransitionListener | undefined;

  constructor(id: string, policy: HealthPolicy = DEFAULT_HEALTH_POLICY) {
    checkPolicy(policy);
    this.id = id;
    this.policy = Object.freeze({ ...policy });
    this.window = new OutcomeWindow(policy.window_s);
  }

  get inflight(): number {
    return this.inflightCount;
  }

  availability(now: number): Availability {
    if (this.disabledReason !== undefined) return { available: false, state: 'disabled', reason: this.disabledReason };
    const hold = this.activeHold(now);
    if (this.openedAt !== undefined && now < this.reopensAt()) {
      // The breaker's own cooldown may end inside an upstream-imposed wait; report when it can really be tried.
      const until = Math.max(this.reopensAt(), hold?.until ?? 0);
      return { available: false, state: 'open', until, reason: this.openReason };
    }
    // A half-open probe is still a request: it must not break a Retry-After the upstream gave us.
    if (hold) return { available: false, state: hold.state, until: hold.until, reason: hold.reason };
    if (this.openedAt !== undefined) return { available: true, state: 'half_open', reason: this.openReason };
    return { available: true, state: 'healthy' };
  }

  tryAcquire(now: number): boolean {
    const { available, state } = this.availability(now);
    if (!available) return false;
    if (state === 'half_open') {
      // One probe at a time: a still-broken upstream costs one request per cooldown, not a burst.
      if (this.probeOut) return false;
      this.probeOut = true;
      this.listener?.({ deployment: this.id, to: 'half_open', reason: this.openReason });
    }
    this.inflightCount += 1;
    return true;
  }

  /**
   * Ends an attempt. Also frees the half-open probe slot, so a probe the client aborted (no outcome recorded)
   * does not wedge the deployment. Attempts are not told apart: a straggler from before the breaker opened
   * that ends during a probe frees the slot early, which costs at most one extra probe.
   */
  release(): void {
    this.inflightCount = Math.max(0, this.inflightCount - 1);
    this.probeOut = false;
  }

  recordSuccess(now: number, ttfbMs: number): void {
    this.stats.outcome(now, false);
    this.observeLatency(now, ttfbMs);
    if (this.openedAt !== undefined) {
      // During the cooldown a success is a straggler sent before the breaker opened: not proof of recovery.
      if (now >= this.reopensAt()) this.close();
      return;
    }
    this.consecutiveFailures = 0;
    this.window.add(now, false);
  }

  recordFailure(now: number, kind: ErrorKind, retryAfterMs?: number, detail?: FailureDetail): void {
    this.stats.failed(now, kind, detail);
    this.fail(now, kind, retryAfterMs);
  }

  /**
   * A synthetic probe's outcome (pipeline/probes.ts). A failure counts toward the breaker as an attempt's would; a
   * success closes a half-open breaker (during the cooldown it proves nothing yet, as for a straggler). It is not
   * traffic: no latency sample, no error ratio, and a success does not reset the failures client requests met.
   */
  recordProbe(now: number, result: ProbeResult, retryAfterMs?: number): void {
    this.stats.probe = result;
    if (result.error) this.fail(now, result.error.kind, retryAfterMs);
    else if (this.openedAt !== undefined && now >= this.reopensAt()) this.close();
  }

  private fail(now: number, kind: ErrorKind, retryAfterMs?: number): void {
    if (kind === 'auth') {
      this.disable('upstream rejected credentials');
      return;
    }
    if (kind === 'rate_limited') {
      if (retryAfterMs === undefined) this.throttledUntil = Math.max(this.throttledUntil, now + THROTTLE_MS);
      else this.rateLimit = extendHold(this.rateLimit, now, now + retryAfterMs, 'upstream rate limit (429)');
      return;
    }
    if (!BREAKER_KINDS.has(kind)) return; // the request's fault, not the deployment's
    if (retryAfterMs !== undefined) {
      this.cooldown = extendHold(this.cooldown, now, now + retryAfterMs, `upstream asked to retry after ${retryAfterMs} ms (${kind})`);
    }
    this.countFailure(now, kind);
  }

  /** A 429 without a hint came lately: available, but other deployments first (the pipeline's choice). */
  throttled(now: number): boolean {
    return now < this.throttledUntil;
  }

  markExhausted(until: number): void {
    this.rateLimit = longer(this.rateLimit, until, 'rate-limit remaining reached 0');
  }

  /** Out of rotation (its key was rejected) until a reload changes its provider's config. */
  get disabled(): boolean {
    return this.disabledReason !== undefined;
  }

  disable(reason: string): void {
    if (this.disabledReason === undefined) this.listener?.({ deployment: this.id, to: 'disabled', reason });
    this.disabledReason = reason;
  }

  /**
   * Peak-EWMA of time to first byte (Finagle/linkerd): a slower sample is taken at once, so a degrading
   * deployment loses traffic immediately; faster samples pull it down gradually. Between samples the estimate
   * fades toward zero (as Finagle's does when read), so a deployment that was slow once and then got no
   * traffic is eventually tried again instead of being judged forever on a stale peak.
   */
  latency(now: number): number | undefined {
    if (this.latencyMs === undefined) return undefined;
    return this.latencyMs * Math.exp(-Math.max(0, now - this.latencyAt) / LATENCY_TAU_MS);
  }

  /**
   * This deployment's state under another policy (a reloaded config changed `health:`): disabled, open breaker,
   * upstream waits and latency go on; the outcome window restarts, as its size may have changed. The attempts in
   * flight release this object, not the new one, so the new one starts with none.
   */
  withPolicy(policy: HealthPolicy): DeploymentHealth {
    if (samePolicy(policy, this.policy)) return this;
    const next = new DeploymentHealth(this.id, policy);
    next.disabledReason = this.disabledReason;
    next.openedAt = this.openedAt;
    next.openReason = this.openReason;
    next.consecutiveFailures = this.consecutiveFailures;
    next.rateLimit = this.rateLimit;
    next.cooldown = this.cooldown;
    next.throttledUntil = this.throttledUntil;
    next.latencyMs = this.latencyMs;
    next.latencyAt = this.latencyAt;
    next.stats = this.stats;
    next.listener = this.listener;
    return next;
  }

  private observeLatency(now: number, sample: number): void {
    if (!Number.isFinite(sample) || sample < 0) return;
    const current = this.latencyMs;
    if (current === undefined || sample > current) {
      this.latencyMs = sample;
    } else {
      const w = Math.exp(-Math.max(0, now - this.latencyAt) / LATENCY_TAU_MS);
      this.latencyMs = current * w + sample * (1 - w);
    }
    this.latencyAt = now;
  }

  private countFailure(now: number, kind: ErrorKind): void {
    if (this.openedAt !== undefined) {
      // Half-open: the probe (or a straggler) failed, so wait another cooldown. While still open it is a
      // straggler, and the cooldown already running is the right one.
      if (now >= this.reopensAt()) this.open(now, `half-open probe failed (${kind})`);
      return;
    }
    this.consecutiveFailures += 1;
    this.window.add(now, true);
    const { failure_threshold, failure_ratio, min_requests, window_s } = this.policy;
    const { total, failures } = this.window.counts(now);
    if (this.consecutiveFailures >= failure_threshold) {
      this.open(now, `${this.consecutiveFailures} consecutive failures (last: ${kind})`);
    } else if (total >= min_requests && failures / total >= failure_ratio) {
      this.open(now, `${failures} of ${total} attempts failed in ${window_s} s (last: ${kind})`);
    }
  }

  private open(now: number, reason: string): void {
    this.openedAt = now;
    this.openReason = `circuit open: ${reason}`;
    this.probeOut = false;
    this.listener?.({ deployment: this.id, to: 'open', reason });
  }

  private close(): void {
    if (this.openedAt !== undefined) this.listener?.({ deployment: this.id, to: 'closed' });
    this.openedAt = undefined;
    this.openReason = '';
    this.probeOut = false;
    this.consecutiveFailures = 0;
    this.window.clear();
  }

  private reopensAt(): number {
    return (this.openedAt ?? 0) + this.policy.cooldown_s * 1000;
  }

  /** The upstream-imposed wait in force, if any; a rate limit wins the label so "all rate-limited" maps to 429. */
  private activeHold(now: number): (Hold & { state: 'rate_limited' | 'cooling_down' }) | undefined {
    const limit = this.rateLimit && now < this.rateLimit.until ? this.rateLimit : undefined;
    const cool = this.cooldown && now < this.cooldown.until ? this.cooldown : undefined;
    if (limit) return { state: 'rate_limited', until: Math.max(limit.until, cool?.until ?? 0), reason: limit.reason };
    if (cool) return { state: 'cooling_down', ...cool };
    return undefined;
  }
}

export type HealthSnapshot = { id: string } & Availability & { inflight: number; latencyMs?: number };

export class HealthRegistry {
  private readonly byId = new Map<string, DeploymentHealth>();
  private readonly policyFor: (id: string) => HealthPolicy;
  private listener: TransitionListener | undefined;

  constructor(policyFor: (id: string) => HealthPolicy = () => DEFAULT_HEALTH_POLICY) {
    this.policyFor = policyFor;
  }

  /** Takes over a deployment's state from another registry (a config reload), under this registry's policy. */
  adopt(health: DeploymentHealth): void {
    const adopted = health.withPolicy(this.policyFor(health.id));
    if (this.listener) adopted.listener = this.listener;
    this.byId.set(health.id, adopted);
  }

  /** Every deployment's transitions, from now on, go to `listener` (the last one given). */
  listen(listener: TransitionListener): void {
    this.listener = listener;
    for (const h of this.byId.values()) h.listener = listener;
  }

  /** Every deployment with state. */
  all(): IterableIterator<DeploymentHealth> {
    return this.byId.values();
  }

  /** The state of `id` when it has any (nothing is created). */
  find(id: string): DeploymentHealth | undefined {
    return this.byId.get(id);
  }

  get(id: string): DeploymentHealth {
    let health = this.byId.get(id);
    if (!health) {
      health = new DeploymentHealth(id, this.policyFor(id));
      health.listener = this.listener;
      this.byId.set(id, health);
    }
    return health;
  }

  snapshot(now: number): HealthSnapshot[] {
    return [...this.byId.values()].map((h) => {
      const latencyMs = h.latency(now);
      const row: HealthSnapshot = { id: h.id, ...h.availability(now), inflight: h.inflight };
      if (latencyMs !== undefined) row.latencyMs = latencyMs;
      return row;
    });
  }
}
