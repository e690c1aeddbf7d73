import { Counter, Registry } from 'prom-client';
import type { Headers } from '../types.js';
import { FastCounter, FastHistogram } from './fast-metrics.js';
import { LabelBounds, statusLabel } from './metric-labels.js';
import { processRegistry } from './process-metrics.js';
import { type StateSources, StateGauges } from './state-gauges.js';

/** One upstream attempt of a finished request, as counted. */
export interface AttemptFacts {
  deployment: string;
  /** `ok`, an error kind, `hedge_lost` or `cancelled`. */
  outcome: string;
  ms: number;
  /** A hedge: ran beside the attempt before it (not a retry). */
  hedge?: boolean;
  /** Tokens this attempt cost on its own (a hedge loser's prompt). */
  input?: number;
}

/** Tokens of an answer (`input` includes `cached`). */
export interface TokenFacts {
  input: number;
  output: number;
  cached: number;
}

/** One finished request, as the server summarises it (server/request-log.ts): everything the metrics count. */
export interface RequestFacts {
  /** The route-table path (`/v1/chat/completions`, `/v1/models/*`), or `other`. */
  route: string;
  /** The client-facing model the client asked for, as sent (bounded here). */
  model: string | undefined;
  status: number | undefined;
  ms: number;
  /** Streams: from the request's start to its first token. */
  ttftMs?: number;
  /** The gateway's own time (see docs/observability.md). */
  overheadMs?: number;
  attempts: readonly AttemptFacts[];
  /** The deployment that answered, and the answer's tokens and cost there. */
  deployment?: string;
  usage?: TokenFacts;
  costUsd?: number;
  /** Cost of attempts that did not answer (hedge losers), per deployment. */
  extraCost?: ReadonlyMap<string, number>;
}

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const TTFT_SECONDS = [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60];
const OVERHEAD_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

/**
 * The gateway's Prometheus metrics, one registry per gateway (a process may run several, as the tests do); process
 * metrics come from one registry per process (process-metrics.ts). A finished request is counted once, in
 * `record`, from what the request recorded; the few facts a request's record lacks are counted where they are
 * decided (resumes, hedges, fallbacks, rate-limit headers). Every label value is bounded (metric-labels.ts).
 * The series and their labels are documented in docs/observability.md.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly labels = new LabelBounds();
  private readonly state = new StateGauges(this.registry);

  readonly requests = this.fast('lifeline_requests_total', 'Client requests, by route, client-facing model and status', ['route', 'model', 'status']);
  readonly attempts = this.fast('lifeline_upstream_attempts_total', 'Upstream attempts, by deployment and outcome', ['deployment', 'outcome']);
  readonly retries = this.fast('lifeline_retries_total', "Upstream attempts after a request's first one (not hedges), by requested model", ['model']);
  readonly fallbacks = this.counter('lifeline_fallbacks_total', 'Requests that went on to a fallback model, by requested model and fallback', ['from', 'to']);
  readonly tokens = this.fast('lifeline_tokens_total', 'Tokens, by client-facing model, deployment and type (input includes cached_input)', ['model', 'deployment', 'type']);
  readonly cost = this.fast('lifeline_cost_usd_total', 'Estimated cost in USD at the catalog or configured price', ['model', 'deployment']);

  readonly streamResumes = this.counter(
    'lifeline_stream_resumes_total',
    'Streams whose upstream failed mid-answer, by outcome: resumed on another upstream, or not_resumed (the client got an error event)',
    ['model', 'outcome'],
  );
  readonly hedges = this.counter('lifeline_hedges_total', 'Hedged stream attempts, by which attempt produced the first token', ['model', 'winner']);

  readonly requestDuration = this.histogram('lifeline_request_duration_seconds', 'Client request duration, to its last byte', ['route', 'model'], SECONDS);
  readonly ttft = this.histogram('lifeline_time_to_first_token_seconds', "Streams: from the request's arrival to its first token", ['model'], TTFT_SECONDS);
  readonly upstreamDuration = this.histogram(
    'lifeline_upstream_duration_seconds',
    'One upstream attempt, to its answer (JSON) or first token (stream), or its failure',
    ['deployment'],
    SECONDS,
  );
  readonly overhead = this.histogram(
    'lifeline_overhead_seconds',
    "The gateway's own time in a request: its duration less upstream attempts and retry waits (streams: up to the first token)",
    ['route'],
    OVERHEAD_SECONDS,
  );

  /** Names the configured models and deployments: only these (and `other`, `none`) become label values. */
  know(models: Iterable<string>, deployments: readonly string[]): void {
    this.labels.know(models, deployments);
    this.state.sources.deploymentIds = deployments;
  }

  /** Where the state gauges read from (the current engine's deployments, the open streams). */
  watch(sources: StateSources): void {
    Object.assign(this.state.sources, sources);
  }

  /** A request started on `route` (a route label): counted in `lifeline_in_flight` until `record`. */
  started(route: string): void {
    this.state.inflight.set(route, (this.state.inflight.get(route) ?? 0) + 1);
  }

  /** A successful upstream answer's rate-limit headers (`lifeline_ratelimit_remaining`). */
  rateLimits(deployment: string, headers: Headers): void {
    this.state.rateLimits(this.labels.deployment(deployment), headers);
  }

  /** A request went on from its model to a fallback model. */
  fallback(from: string, to: string): void {
    this.fallbacks.inc({ from: this.labels.model(from), to: this.labels.model(to) });
  }

  /** A finished request (after `started`), counted once. */
  record(r: RequestFacts): void {
    const b = this.labels;
    const { route } = r;
    this.state.inflight.set(route, Math.max(0, (this.state.inflight.get(route) ?? 1) - 1));
    const model = b.model(r.model);
    this.requests.inc([route, model, statusLabel(r.status)]);
    this.requestDuration.observe([route, model], r.ms / 1000);
    if (r.ttftMs !== undefined) this.ttft.observe([model], r.ttftMs / 1000);
    if (r.overheadMs !== undefined) this.overhead.observe([route], r.overheadMs / 1000);
    let retries = 0;
    for (let i = 0; i < r.attempts.length; i++) {
      const a = r.attempts[i] as AttemptFacts;
      const deployment = b.deployment(a.deployment);
      this.attempts.inc([deployment, b.outcome(a.outcome)]);
      this.upstreamDuration.observe([deployment], a.ms / 1000);
      if (i > 0 && !a.hedge) retries++;
      if (a.input) this.tokens.inc([model, deployment, 'input'], a.input);
    }
    if (retries > 0) this.retries.inc([model], retries);
    for (const [d, usd] of r.extraCost ?? []) if (usd > 0) this.cost.inc([model, b.deployment(d)], usd);
    const u = r.usage;
    if (!u || r.deployment === undefined) return;
    const deployment = b.deployment(r.deployment);
    if (u.input > 0) this.tokens.inc([model, deployment, 'input'], u.input);
    if (u.output > 0) this.tokens.inc([model, deployment, 'output'], u.output);
    if (u.cached > 0) this.tokens.inc([model, deployment, 'cached_input'], u.cached);
    if (r.costUsd !== undefined && r.costUsd > 0) this.cost.inc([model, deployment], r.costUsd);
  }

  /** Prometheus text exposition: this gateway's series, then the process's. */
  async render(): Promise<string> {
    const own = await this.registry.metrics();
    return `${own}\n${await processRegistry().metrics()}`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** A per-request series (fast-metrics.ts): label values are given in `labelNames` order. */
  private fast(name: string, help: string, labelNames: readonly string[]): FastCounter {
    return new FastCounter(name, help, labelNames, this.registry);
  }

  private histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): FastHistogram {
    return new FastHistogram(name, help, labelNames, this.registry, buckets);
  }
}
