import type { Config } from '../config/types.js';
import { GatewayError, toGatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { type Deadline, sleep } from '../resilience/deadline.js';
import { retryDelay } from '../resilience/index.js';
import { rateLimitRemaining, rateLimitResetMs } from '../resilience/retry-hints.js';
import type { Deployments } from '../routing/deployments.js';
import type { DeploymentHealth } from '../routing/health.js';
import type { Route, RoutedTarget } from '../routing/routes.js';
import type { Deployment, Headers, Operation, Upstream } from '../types.js';
import { type AttemptInput, type AttemptRecord, attemptJson } from './attempt.js';
import { type Choice, chooseTarget, supports } from './choose.js';
import { hedgeDelay, LatencyWindow } from './hedge.js';
import type { GatewayRequest, ModelAnswer } from './request.js';
import { commitStream, Feed, type Launch, launchHedge, streamAccounting, toSink } from './stream-attempt.js';
import { unavailableError } from './unavailable.js';
import type { AttemptKind } from '../observability/tracing.js';
import { usageInJson } from '../accounting/cost.js';

export type ModelOutcome =
  | { ok: true; result: ModelAnswer; deployment: Deployment }
  | { ok: false; error: GatewayError; attempted: boolean };

/** Narrows where a model's attempts may go: a continuation needs a prefill-capable deployment. */
export interface Scope {
  allow?: (t: RoutedTarget) => boolean;
  /** Tried last: the deployment whose stream just failed. */
  avoid?: string;
}

/** What the loop works with, owned by the Pipeline. */
export interface LoopDeps {
  config: Config;
  upstream: Upstream;
  deployments: Deployments;
  rand: () => number;
  logger: Logger | undefined;
  metrics: Metrics | undefined;
}

/**
 * The decision loop for one model of the chain (see Pipeline): attempts go to available deployments chosen by the
 * model's strategy: a fresh deployment at once (after a failure, within the model's failover budget), the same one
 * again only after a jittered backoff or the upstream's cooldown and only within the deployment's retry budget;
 * never more than `retry.max_attempts_per_request` in all. Every wait spends from the deadline; nothing sleeps past it.
 */
export class ModelLoop {
  /** Per model: recent times to first token, for `hedge.after_percentile`. */
  readonly firstTokenMs = new Map<string, LatencyWindow>();

  constructor(readonly deps: LoopDeps) {}

  run(req: GatewayRequest, route: Route, deadline: Deadline, attempts: AttemptRecord[], scope: Scope = {}): Promise<ModelOutcome> {
    if (route !== req.route && !scope.allow) this.deps.metrics?.fallback(req.route.model.name, route.model.name); // metrics: the record lacks the model
    return new ModelRun(this, req, route, deadline, attempts, scope).run();
  }

  firstTokenWindow(model: string): LatencyWindow {
    let w = this.firstTokenMs.get(model);
    if (!w) {
      w = new LatencyWindow();
      this.firstTokenMs.set(model, w);
    }
    return w;
  }

  /** `ms` is the answer's time (JSON), or the time to a stream's first token (`ttft`). */
  succeeded(health: DeploymentHealth, headers: Headers, ms: number, what: 'latency' | 'ttft' = 'latency'): void {
    const now = Date.now();
    health.recordSuccess(now, ms);
    health.stats.sample(what, ms);
    health.stats.sawQuota(now, rateLimitRemaining(headers));
    const reset = rateLimitResetMs(headers, now);
    if (reset !== undefined) health.markExhausted(now + reset);
    this.deps.metrics?.rateLimits(health.id, headers);
  }
}

/** A deployment the next attempt goes to: its slot taken, its budgets paid. */
interface Acquired {
  d: Deployment;
  health: DeploymentHealth;
  /** Backoff or Retry-After wait spent before this attempt. */
  waitedMs: number;
  /** Why it is made (its span says so): the model's first, a retry of a tried deployment, a failover, a fallback. */
  kind: AttemptKind;
}

/** One model's attempts for one request: the loop's state between its steps. */
class ModelRun {
  private readonly cap: number;
  private readonly failovers: ReturnType<Deployments['failovers']>;
  /** Not to be used again by this request (hung, bad key, unknown model). */
  private readonly excluded = new Set<string>();
  private readonly tried: Set<string>;
  private last: GatewayError | undefined;
  private retries = 0;
  private waits = 0;
  /** Time spent in 'wait', reported on the attempt that follows it. */
  private waitedForHint = 0;
  /** The retry after a 'wait' was already charged to the budget and needs no extra backoff. */
  private prepaid = false;
  private attempted = false;
  /** False once the model's failover budget refused: tried deployments only. */
  private failover = true;

  constructor(
    private readonly loop: ModelLoop,
    private readonly req: GatewayRequest,
    private readonly route: Route,
    private readonly deadline: Deadline,
    private readonly attempts: AttemptRecord[],
    private readonly scope: Scope,
  ) {
    this.cap = req.route.model.retry.max_attempts_per_request; // the requested model's, across the whole chain
    this.failovers = loop.deps.deployments.failovers(route.model.name);
    this.tried = new Set<string>(scope.avoid ? [scope.avoid] : []);
  }

  async run(): Promise<ModelOutcome> {
    const refused = this.refusal();
    if (refused) return this.stop(refused);
    for (let n = 0; n < this.route.model.retry.max_attempts; ) {
      const next = await this.next();
      if (next === undefined) continue;
      if ('ok' in next) return next;
      n++;
      const outcome = await this.attempt(next);
      if (outcome) return outcome;
    }
    return this.stop(this.last);
  }

  private stop(error: GatewayError | undefined): ModelOutcome {
    return { ok: false, error: error ?? unavailableError(this.route, this.loop.deps.deployments, Date.now()), attempted: this.attempted };
  }

  /** Why this model cannot serve the request at all (its providers, or the scope), before any attempt. */
  private refusal(): GatewayError | undefined {
    const { req, route, scope } = this;
    if (!route.targets.some((t) => supports(t, req.op))) {
      const types = [...new Set(route.targets.map((t) => t.deployment.provider.type))].join(', ');
      return new GatewayError('bad_request', `Model "${route.model.name}" cannot serve ${OP_NAMES[req.op]}: its providers (${types}) do not support it`, {
        code: 'unsupported_operation',
        param: 'model',
      });
    }
    if (scope.allow) {
      for (const t of route.targets) if (!scope.allow(t)) this.excluded.add(t.deployment.id);
      if (this.excluded.size === route.targets.length) {
        return new GatewayError('unavailable', `No deployment of model "${route.model.name}" can continue a partial answer (supports_prefill)`);
      }
    }
    return undefined;
  }

  /** The next deployment to try, after any wait it needs; a final outcome; or undefined to choose again. */
  private async next(): Promise<Acquired | ModelOutcome | undefined> {
    const { deadline, cap } = this;
    if (deadline.signal.aborted) return this.stop(abortError(deadline));
    if (this.attempts.length >= cap) return this.stop(this.last ?? attemptsSpent(cap));
    const now = Date.now();
    const { deployments, rand } = this.loop.deps;
    const choice: Choice = chooseTarget(this.req.op, this.route, deployments, this.excluded, this.tried, now, rand, { failover: this.failover });
    if (choice.type === 'none') return this.stop(this.last ?? choice.error);
    if (choice.type === 'wait') return this.waitFor(choice, now);
    const d = choice.target.deployment;
    let waitedMs = 0;
    if (choice.type === 'retry' && !this.prepaid) {
      const waited = await this.backoff(d, now);
      if (typeof waited !== 'number') return waited;
      waitedMs = waited;
    }
    return this.acquire(choice.type, d, waitedMs);
  }

  /** Everything is cooling down; waits for the earliest only if the hint is short and the deadline allows. */
  private async waitFor(choice: Extract<Choice, { type: 'wait' }>, now: number): Promise<ModelOutcome | undefined> {
    const { retry } = this.route.model;
    const wait = choice.until - now;
    if (wait > retry.max_retry_after_ms || wait >= this.deadline.remaining(now) || this.waits++ >= retry.max_attempts) {
      return this.stop(this.last ?? choice.error);
    }
    // Charged once: a waiter that wakes a moment early and waits the rest has not cost the upstream anything more.
    if (!this.prepaid && !this.loop.deps.deployments.budget(choice.deployment.id).tryRetry(now)) return this.stop(this.last ?? choice.error);
    await sleep(wait, this.deadline.signal).catch(() => undefined);
    this.waitedForHint += wait;
    this.prepaid = true;
    return undefined;
  }

  /** A retry of a tried deployment: paid from its retry budget, after a jittered backoff. Returns the time waited. */
  private async backoff(d: Deployment, now: number): Promise<number | ModelOutcome> {
    const { retry } = this.route.model;
    if (!this.loop.deps.deployments.budget(d.id).tryRetry(now)) return this.stop(this.last);
    // An upstream hint needs no floor here: health holds a deployment until its Retry-After has passed,
    // so a hinted deployment is never offered for a retry early (it comes back through the 'wait' path).
    const waitedMs = retryDelay({ retryIndex: this.retries++, baseMs: retry.base_delay_ms, maxMs: retry.max_delay_ms, rand: this.loop.deps.rand });
    if (waitedMs >= this.deadline.remaining(now)) return this.stop(this.last);
    try {
      await sleep(waitedMs, this.deadline.signal);
    } catch {
      return this.stop(abortError(this.deadline));
    }
    return waitedMs;
  }

  /** Takes the deployment's slot and pays for the attempt; undefined when it cannot go there after all. */
  private acquire(type: 'fresh' | 'retry', d: Deployment, waitedMs: number): Acquired | undefined {
    const { deployments } = this.loop.deps;
    const health = deployments.health(d.id);
    if (!health.tryAcquire(Date.now())) {
      this.excluded.add(d.id); // a half-open probe is already out; don't count this as an attempt
      return undefined;
    }
    // Another deployment after a failure is an extra attempt too: the model's failover budget pays for it, or the
    // request keeps to the deployments it has tried (a retry after a backoff, or a wait for a cooldown).
    if (type === 'fresh' && this.attempted && !this.failovers.tryRetry(Date.now())) {
      health.release();
      this.failover = false;
      return undefined;
    }
    const kind: AttemptKind = type === 'retry' ? 'retry' : this.attempted ? 'failover' : this.route === this.req.route ? 'first' : 'fallback';
    if (!this.attempted) this.failovers.recordAttempt(Date.now());
    if (type === 'fresh') deployments.budget(d.id).recordAttempt(Date.now());
    this.prepaid = false;
    this.attempted = true;
    this.tried.add(d.id);
    const waited = waitedMs + this.waitedForHint;
    this.waitedForHint = 0;
    return { d, health, waitedMs: waited, kind };
  }

  /** One attempt: its outcome, or undefined when the loop goes on after its failure. */
  private async attempt(a: Acquired): Promise<ModelOutcome | undefined> {
    const { req, deadline, attempts } = this;
    const { d, health } = a;
    const record: AttemptRecord = { deployment: d.id, ms: 0, ...(a.waitedMs > 0 ? { waitedMs: Math.round(a.waitedMs) } : {}) };
    attempts.push(record);
    const input: AttemptInput = { upstream: this.loop.deps.upstream, op: req.op, body: req.body, timeouts: this.route.model.timeouts, signal: deadline.signal };
    if (req.stream) input.maxEventBytes = this.loop.deps.config.streaming.max_event_bytes;
    if (req.raw?.of === req.body) input.raw = req.raw;
    if (req.sink) Object.assign(input, toSink(req.sink, attempts));
    if (this.scope.allow) record.resume = true;
    const span = req.trace?.attempt({
      kind: this.scope.allow ? 'resume' : a.kind,
      deployment: d,
      model: this.route.model.name,
      op: req.op,
      number: attempts.length,
      stream: req.stream,
      waitedMs: record.waitedMs,
    });
    if (span) input.trace = span;
    const t0 = performance.now();
    try {
      if (req.stream) return await this.stream({ d, health, record, input, t0 });
      const { body, headers } = await attemptJson(input, d, record);
      record.ms = Math.round((performance.now() - t0) * 10) / 10; // to 0.1 ms: metrics subtract it from the request's time
      this.loop.succeeded(health, headers, record.ms);
      const usage = usageInJson(body);
      input.trace?.end(record, { answer: body, usage });
      health.release();
      return { ok: true, deployment: d, result: { type: 'json', body, meta: { deployment: d.id, attempts, usage } } };
    } catch (err) {
      const outcome = this.failed(toGatewayError(err), a, record, t0);
      input.trace?.end(record, { cancelled: deadline.signal.aborted });
      return outcome;
    }
  }

  /** A stream attempt (hedged when the model asks for it), committed on its first token. */
  private async stream(launch: Launch): Promise<ModelOutcome> {
    const { req, route, attempts, deadline } = this;
    const { deployments, rand } = this.loop.deps;
    const { d, input } = launch;
    const afterMs = hedgeDelay(route.model.hedge, this.loop.firstTokenMs.get(route.model.name));
    const resume = this.scope.allow !== undefined;
    const won = await commitStream(launch, {
      afterMs,
      hedge: () =>
        attempts.length < this.cap
          ? launchHedge({ op: req.op, route, slow: d, input, excluded: this.excluded, tried: this.tried, attempts, resume, trace: req.trace }, deployments, rand)
          : undefined,
      deadline: deadline.signal,
      onHedge: (winner) => this.loop.deps.metrics?.hedges.inc({ model: route.model.name, winner }),
    });
    const ms = Math.round((performance.now() - won.t0) * 10) / 10;
    won.record.ms = ms;
    const onEnd = streamAccounting(won.health, deadline.signal, () => {
      this.loop.succeeded(won.health, won.committed.response.headers, ms, 'ttft');
      this.loop.firstTokenWindow(route.model.name).add(ms);
    });
    // A stream that fails after its first token: its attempt failed too (metrics and the request line count it).
    const feed = new Feed(won.committed, won.d, (error) => {
      if (error) won.record.kind ??= error.kind;
      onEnd(error);
    });
    return { ok: true, deployment: won.d, result: { type: 'stream', feed, meta: { deployment: won.d.id, attempts, firstTokenAt: performance.now() } } };
  }

  /** Accounts a failed attempt; a final outcome when the failure ends the model, undefined to go on. */
  private failed(error: GatewayError, a: Acquired, record: AttemptRecord, t0: number): ModelOutcome | undefined {
    const { d, health } = a;
    const { deadline } = this;
    error.deployment ??= d.id;
    record.ms = Math.round((performance.now() - t0) * 10) / 10;
    record.kind = error.kind;
    record.status ??= error.upstreamStatus;
    const aborted = deadline.signal.aborted;
    if (aborted && abortError(deadline).kind !== 'timeout') record.kind = 'cancelled'; // the client left, or a shutdown
    // A client that left or a request out of time says nothing about the deployment's health.
    if (!aborted) health.recordFailure(Date.now(), error.kind, error.retryAfterMs, error);
    health.release();
    if (aborted) return this.stop(abortError(deadline));
    if (error.kind === 'auth') {
      this.loop.deps.logger?.error(
        { deployment: d.id, provider: d.provider.name, upstreamStatus: error.upstreamStatus },
        `upstream rejected the credentials of provider "${d.provider.name}": ${d.id} is out of rotation until the config is reloaded`,
      );
    }
    this.last = error;
    if (error.kind === 'bad_request' || error.kind === 'context_length' || error.kind === 'content_policy') return this.stop(error);
    const { retry } = this.route.model;
    const hintTooLong = (error.retryAfterMs ?? 0) > Math.min(retry.max_retry_after_ms, deadline.remaining());
    if (!error.retryable || error.kind === 'timeout' || hintTooLong) this.excluded.add(d.id);
    return undefined;
  }
}

const OP_NAMES: Record<Operation, string> = { chat: 'chat completions', embeddings: 'embeddings', responses: 'the Responses API' };

/** When a model is reached with the request's attempts already spent (a stream's continuation): nothing to try. */
function attemptsSpent(cap: number): GatewayError {
  return new GatewayError('unavailable', `The request has made its ${cap} upstream attempts (retry.max_attempts_per_request)`, {
    code: 'attempts_exhausted',
    retryable: false,
  });
}

/** Why the request stopped: its client's or the deadline's reason. */
export function abortError(deadline: Deadline): GatewayError {
  const reason: unknown = deadline.signal.reason;
  return reason instanceof GatewayError ? reason : deadline.expiredError();
}
