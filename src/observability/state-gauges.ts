import { Gauge, type Registry } from 'prom-client';
import type { Headers } from '../types.js';
import { RATELIMIT_KINDS } from './metric-labels.js';

/** A deployment's health as routing sees it (routing/health.ts `HealthSnapshot`, the fields read here). */
export interface DeploymentState {
  id: string;
  /** healthy | open | half_open | cooling_down | rate_limited | disabled */
  state: string;
  /** Epoch ms when it may be tried again. */
  until?: number;
}

/** Where the state gauges read from, at scrape time only. */
export interface StateSources {
  /** The current engine's deployments (a reload replaces it; see server/reload.ts). */
  deployments?: (now: number) => readonly DeploymentState[];
  /** Streams open, shared across engines. */
  streams?: { readonly open: number };
  /** The configured deployments (series at 0 for those with no state yet). */
  deploymentIds?: readonly string[];
}

const BREAKER: Readonly<Record<string, number>> = { open: 2, half_open: 1 };

/** Header names per kind, built once: read on every successful upstream answer. */
const RATELIMIT_HEADERS: readonly { kind: (typeof RATELIMIT_KINDS)[number]; names: readonly string[] }[] = RATELIMIT_KINDS.map((kind) => {
  const dashed = kind.replace('_', '-');
  const names = [`anthropic-ratelimit-${dashed}-remaining`];
  if (kind === 'requests' || kind === 'tokens') names.unshift(`x-ratelimit-remaining-${kind}`);
  return { kind, names };
});

/**
 * The gauges that report state: each reads its source when scraped (prom-client `collect`), so a request pays
 * nothing for them, except the two plain map updates of in-flight requests and rate-limit headers.
 */
export class StateGauges {
  readonly sources: StateSources = {};
  /** Requests in flight per route label. */
  readonly inflight = new Map<string, number>();
  /** The last `remaining` each deployment's upstream reported, per kind. */
  private readonly remaining = new Map<string, Map<string, number>>();

  constructor(registry: Registry) {
    const sources = this.sources;
    const inflight = this.inflight;
    const remaining = this.remaining;
    new Gauge({
      name: 'lifeline_in_flight',
      help: 'Requests being handled, by route',
      labelNames: ['route'] as const,
      registers: [registry],
      collect() {
        for (const [route, n] of inflight) this.set({ route }, n);
      },
    });
    new Gauge({
      name: 'lifeline_streams_open',
      help: 'Streamed answers in progress',
      registers: [registry],
      collect() {
        this.set(sources.streams?.open ?? 0);
      },
    });
    const states = (now: number): Map<string, DeploymentState> => {
      const byId = new Map<string, DeploymentState>();
      for (const id of sources.deploymentIds ?? []) byId.set(id, { id, state: 'healthy' });
      for (const s of sources.deployments?.(now) ?? []) if (byId.has(s.id)) byId.set(s.id, s);
      return byId;
    };
    new Gauge({
      name: 'lifeline_breaker_state',
      help: 'Circuit breaker per deployment: 0 closed, 1 half-open, 2 open',
      labelNames: ['deployment'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of states(Date.now()).values()) this.set({ deployment: s.id }, BREAKER[s.state] ?? 0);
      },
    });
    new Gauge({
      name: 'lifeline_deployment_cooldown_seconds',
      help: 'Seconds until a deployment may be tried again (open breaker, upstream Retry-After or rate limit); 0 when available',
      labelNames: ['deployment'] as const,
      registers: [registry],
      collect() {
        this.reset();
        const now = Date.now();
        for (const s of states(now).values()) this.set({ deployment: s.id }, s.until === undefined ? 0 : Math.max(0, (s.until - now) / 1000));
      },
    });
    new Gauge({
      name: 'lifeline_ratelimit_remaining',
      help: "Requests or tokens left in the upstream's rate-limit window, as its last successful answer reported",
      labelNames: ['deployment', 'kind'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [deployment, kinds] of remaining) for (const [kind, n] of kinds) this.set({ deployment, kind }, n);
      },
    });
  }

  /** Reads the rate-limit headers of a successful answer (the deployment label is bounded by the caller). */
  rateLimits(deployment: string, headers: Headers): void {
    let kinds: Map<string, number> | undefined;
    for (const { kind, names } of RATELIMIT_HEADERS) {
      for (const name of names) {
        const v = headers[name];
        const n = typeof v === 'string' ? Number(v) : Number.NaN;
        if (!Number.isFinite(n)) continue;
        kinds ??= this.remaining.get(deployment) ?? new Map<string, number>();
        kinds.set(kind, n);
        break;
      }
    }
    if (kinds && !this.remaining.has(deployment)) this.remaining.set(deployment, kinds);
  }
}
