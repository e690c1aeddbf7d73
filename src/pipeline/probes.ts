/**
 * Synthetic probes (`health.probe_interval_s`): every deployment is asked, on its own jittered timer, the cheapest
 * question its provider answers (the adapter's `probeRequest`: an unbilled list of models; or, where the config
 * says `probe: chat`, a one-token chat, billed). A failed probe counts toward the deployment's breaker as a
 * failed attempt would, so a dead deployment's breaker opens before a client request is sent to it; a probe that
 * succeeds once the breaker is half-open closes it, so a recovered deployment comes back on its own. Results are
 * kept on the deployment's stats (GET /admin/deployments) and exported as `lifeline_probe_up` and
 * `lifeline_probe_latency_seconds`. One Prober per engine (server/reload.ts): stopped when a reload replaces the
 * engine and when the gateway drains or closes; its timers never keep the process alive.
 */
import { Gauge, type Registry } from 'prom-client';
import { Cancel } from '../cancel.js';
import type { Config } from '../config/types.js';
import { GatewayError, toGatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { adapterFor } from '../providers/index.js';
import { rateLimitRemaining } from '../resilience/retry-hints.js';
import type { Deployments } from '../routing/deployments.js';
import { buildRoutes } from '../routing/routes.js';
import type { ProbeResult } from '../routing/stats.js';
import { secretsOf } from '../secrets.js';
import type { Deployment, Upstream, UpstreamRequest } from '../types.js';

/** The shortest interval honoured (fractions of a second are for tests). */
export const MIN_PROBE_INTERVAL_S = 0.05;
/** A probe gets at most this long (and never more than its interval) for its whole answer. */
const PROBE_TIMEOUT_MS = 10_000;
/** Each later probe comes after the interval ± this share, so deployments drift apart rather than bunch up. */
const JITTER = 0.1;

/**
 * The probe request of a deployment, or undefined when it is not probed: its provider's `probe` (default: `models`
 * where the family has a free list, else `off`); `chat` is a one-token chat completion built like a client's.
 */
export function probeRequestFor(d: Deployment): UpstreamRequest | undefined {
  const adapter = adapterFor(d.provider.type);
  const mode = d.provider.probe ?? (adapter.probeRequest ? 'models' : 'off');
  if (mode === 'off') return undefined;
  if (mode === 'models') return adapter.probeRequest?.(d);
  return adapter.buildRequest('chat', { model: d.model, messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 }, d);
}

export interface ProberDeps {
  config: Config;
  upstream: Upstream;
  deployments: Deployments;
  logger?: Logger | undefined;
  rand?: () => number;
}

/** The probes of one engine's deployments. */
export class Prober {
  /** The deployments probed (each once, however many models route to it), with their requests. */
  readonly targets: ReadonlyArray<{ d: Deployment; request: UpstreamRequest }>;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Cancel>();
  private readonly intervalMs: number;
  private readonly rand: () => number;
  private stopped = false;

  constructor(private readonly deps: ProberDeps) {
    const seen = new Map<string, { d: Deployment; request: UpstreamRequest }>();
    for (const route of buildRoutes(deps.config).values()) {
      for (const { deployment: d } of route.targets) {
        if (seen.has(d.id)) continue;
        const request = probeRequestFor(d);
        if (request) seen.set(d.id, { d, request });
        else if (d.provider.probe === 'models') this.warnNoModels(d);
      }
    }
    this.targets = [...seen.values()];
    const s = deps.config.health.probe_interval_s;
    this.intervalMs = s === 0 ? 0 : Math.max(s, MIN_PROBE_INTERVAL_S) * 1000;
    this.rand = deps.rand ?? Math.random;
  }

  /**
   * Starts each deployment's timer: its first probe at a random point between half an interval and one (so a
   * gateway's start, or a reload, sends no burst), then one per interval, jittered.
   */
  start(): void {
    if (this.intervalMs === 0 || this.stopped) return;
    for (const t of this.targets) this.schedule(t, this.intervalMs * (0.5 + 0.5 * this.rand()));
  }

  /** No probe starts after this; the ones out are aborted and record nothing. Idempotent. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const c of this.running) c.abort(new GatewayError('unavailable', 'probes stopped'));
  }

  /** The last result of each probed deployment (for the gauges). */
  *results(): Iterable<[string, ProbeResult]> {
    for (const { d } of this.targets) {
      const probe = this.deps.deployments.health(d.id).stats.probe;
      if (probe) yield [d.id, probe];
    }
  }

  /** Probes one deployment now and records the result on its health; undefined when it was skipped or stopped. */
  async probe(target: { d: Deployment; request: UpstreamRequest }): Promise<ProbeResult | undefined> {
    const { d, request } = target;
    const health = this.deps.deployments.health(d.id);
    const now = Date.now();
    const { state } = health.availability(now);
    // A wait the upstream asked for (or a rejected key, until a reload) is not broken by a probe either.
    if (state === 'rate_limited' || state === 'cooling_down' || state === 'disabled' || this.stopped) return undefined;
    // Half-open: the probe takes the one trial slot, so no client request is the trial at the same time.
    const slot = state === 'half_open' && health.tryAcquire(now);
    const cancel = new Cancel();
    this.running.add(cancel);
    const timeoutMs = Math.min(PROBE_TIMEOUT_MS, Math.max(this.intervalMs, 1000));
    const timer = setTimeout(() => cancel.abort(new GatewayError('timeout', `Probe of ${d.id} got no answer within ${timeoutMs} ms`, { code: 'probe_timeout' })), timeoutMs);
    timer.unref();
    const t0 = performance.now();
    let outcome: { error?: GatewayError; retryAfterMs?: number };
    try {
      outcome = await this.send(d, request, cancel, timeoutMs);
    } finally {
      clearTimeout(timer);
      this.running.delete(cancel);
      if (slot) health.release();
    }
    if (this.stopped) return undefined;
    const result = this.result(d, Math.round(performance.now() - t0), outcome.error);
    health.recordProbe(result.at, result, outcome.retryAfterMs);
    return result;
  }

  private async send(d: Deployment, request: UpstreamRequest, cancel: Cancel, timeoutMs: number) {
    const adapter = adapterFor(d.provider.type);
    try {
      const connect = Math.min(this.deps.config.timeouts.connect_ms, timeoutMs);
      const res = await this.deps.upstream.send({
        request,
        provider: d.provider,
        timeouts: { connect_ms: connect, first_byte_ms: timeoutMs, idle_ms: timeoutMs },
        signal: cancel.signal,
        label: `Probe of ${d.id}`,
      });
      const text = await res.text().catch(() => '');
      this.deps.deployments.health(d.id).stats.sawQuota(Date.now(), rateLimitRemaining(res.headers));
      if (res.status >= 200 && res.status < 300) return {};
      const error = adapter.classifyError(res.status, res.headers, text, d);
      return error.retryAfterMs === undefined ? { error } : { error, retryAfterMs: error.retryAfterMs };
    } catch (err) {
      return { error: toGatewayError(cancel.aborted && cancel.reason instanceof GatewayError ? cancel.reason : err) };
    }
  }

  private result(d: Deployment, ms: number, error: GatewayError | undefined): ProbeResult {
    const at = Date.now();
    const before = this.deps.deployments.health(d.id).stats.probe;
    if (!error) {
      if (before && !before.ok) this.deps.logger?.info({ deployment: d.id, ms }, `probe of ${d.id} succeeded again`);
      return { ok: true, at, ms };
    }
    const message = secretsOf(d.provider).scrubUntrusted(error.message).slice(0, 500);
    const status = error.upstreamStatus;
    if (!before || before.ok) {
      this.deps.logger?.warn({ deployment: d.id, kind: error.kind, upstreamStatus: status }, `probe of ${d.id} failed: ${message}`);
    }
    return { ok: false, at, ms, error: { kind: error.kind, message, ...(status === undefined ? {} : { status }) } };
  }

  private schedule(t: { d: Deployment; request: UpstreamRequest }, delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(t.d.id);
      void this.probe(t)
        .catch((err: unknown) => this.deps.logger?.error({ err, deployment: t.d.id }, 'probe failed unexpectedly'))
        .finally(() => {
          if (!this.stopped) this.schedule(t, this.intervalMs * (1 - JITTER + 2 * JITTER * this.rand()));
        });
    }, delayMs);
    timer.unref();
    this.timers.set(t.d.id, timer);
  }

  private warnNoModels(d: Deployment): void {
    this.deps.logger?.warn(
      { deployment: d.id, provider: d.provider.name },
      `provider "${d.provider.name}" (${d.provider.type}) has no free list of models to probe: ${d.id} is not probed (set probe: chat for a billed one-token probe, or probe: off)`,
    );
  }
}

/**
 * `lifeline_probe_up` and `lifeline_probe_latency_seconds`, per probed deployment, read from `source` (the current
 * engine's prober) at each scrape. Registered once per registry, by the assembly.
 */
export function registerProbeGauges(registry: Registry, source: () => Iterable<[string, ProbeResult]>): void {
  const gauge = (name: string, help: string, value: (r: ProbeResult) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['deployment'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [deployment, r] of source()) this.set({ deployment }, value(r));
      },
    });
  gauge('lifeline_probe_up', "1 when the deployment's last synthetic probe succeeded, else 0", (r) => (r.ok ? 1 : 0));
  gauge('lifeline_probe_latency_seconds', "Duration of the deployment's last synthetic probe", (r) => r.ms / 1000);
}
