import type { Config } from '../config/types.js';
import { GatewayError, toGatewayError } from '../errors.js';
import { rateLimitResetMs } from '../resilience/retry-hints.js';
import { retryDelay } from '../resilience/index.js';
import { Deadline, sleep } from '../resilience/deadline.js';
import { ModelChain } from '../routing/chain.js';
import type { Route, RoutedTarget } from '../routing/routes.js';
import type { Logger } from '../observability/logger.js';
import type { Transport } from '../transport/index.js';
import { encodingFor, PromptEstimate, preloadEncoding } from '../context/index.js';
import type { Metrics } from '../observability/metrics.js';
import type { Deployment, Operation } from '../types.js';
import { type AttemptInput, type AttemptRecord, attemptJson, relay } from './attempt.js';
import { chooseTarget, type Choice, supports } from './choose.js';
import { canPrefill, Deployments } from '../routing/deployments.js';
import { Fitter } from '../context/plan.js';
import { hedgeDelay, LatencyWindow } from './hedge.js';
import { commitStream, type Launch, launchHedge, streamAccounting } from './stream-attempt.js';
import { resumable, type Segment, withFinally } from './resume.js';
import { type GatewayRequest, type GatewayResult, PipelineFailure } from './request.js';
import { mergeUnavailable, unavailableError } from './unavailable.js';

export type { AttemptRecord } from './attempt.js';
export { type GatewayRequest, type GatewayResult, PipelineFailure, type ResultMeta, type StreamAccepted } from './request.js';

type StreamResult = Extract<GatewayResult, { type: 'stream' }>;

type ModelOutcome =
  | { ok: true; result: GatewayResult; deployment: Deployment }
  | { ok: false; error: GatewayError; attempted: boolean };

/** Narrows where a model's attempts may go: a continuation needs a prefill-capable deployment. */
interface Scope {
  allow?: (t: RoutedTarget) => boolean;
  /** Tried last: the deployment whose stream just failed. */
  avoid?: string;
}

export interface PipelineOptions {
  rand?: () => number;
  logger?: Logger;
  metrics?: Metrics;
  /** Per-deployment state carried over from the engine a config reload replaced (see Deployments.carryTo). */
  deployments?: Deployments;
}

/**
 * THE decision loop, and the only place that retries. For each model in the chain (the requested one, then
 * its fallbacks), attempts go to available deployments chosen by the model's strategy: a fresh deployment at
 * once (after a failure, within the model's failover budget), the same one again only after a jittered backoff
 * or the upstream's cooldown and only within the deployment's retry budget; never more than
 * `retry.max_attempts_per_request` in all. Every wait spends from the request's deadline; nothing sleeps past it.
 */
export class Pipeline {
  readonly deployments: Deployments;
  private readonly fitter: Fitter;
  private readonly rand: () => number;
  private readonly logger: Logger | undefined;
  private readonly metrics: Metrics | undefined;
  /** Per model: recent times to first token, for `hedge.after_percentile`. */
  private readonly firstTokenMs = new Map<string, LatencyWindow>();

  constructor(
    private readonly config: Config,
    private readonly transport: Transport,
    private readonly routes: ReadonlyMap<string, Route>,
    options: PipelineOptions = {},
  ) {
    this.deployments = options.deployments ?? new Deployments(config);
    this.fitter = new Fitter(routes);
    this.rand = options.rand ?? Math.random;
    this.logger = options.logger;
    this.metrics = options.metrics;
    // Streams count tokens (a resumed answer's cut part, a hedge's loser, an upstream that reports no usage).
    // Loading an encoding blocks for ~100–250 ms, so it is paid here, at startup, not by a stream in flight.
    if (config.streaming.resume || Object.values(config.models).some((m) => m.hedge)) {
      const encodings = new Set(Object.values(config.models).flatMap((m) => m.targets.map((t) => encodingFor(t.model).encoding)));
      for (const encoding of encodings) preloadEncoding(encoding);
    }
  }

  async run(req: GatewayRequest): Promise<GatewayResult> {
    const primary = req.route;
    const totalMs = Math.min(primary.model.timeouts.total_ms, req.timeoutMs ?? Number.POSITIVE_INFINITY);
    const deadline = new Deadline(totalMs, req.signal);
    const attempts: AttemptRecord[] = [];
    const chain = new ModelChain(primary, this.routes, req.fallbacks === false ? 0 : primary.model.retry.max_fallbacks);
    const unavailable: GatewayError[] = [];
    const estimate = req.op === 'chat' ? new PromptEstimate(req.body, req.bodyBytes) : undefined;
    let tooLong: GatewayError | undefined; // the requested model's own context verdict, if it had one
    let handedOff = false;
    let last: GatewayError | undefined;
    try {
      for (let route: Route | undefined = primary; route; ) {
        const planned = estimate ? this.fitter.fit(route, estimate, wantsTransform(req, route)) : { ok: true as const };
        const fit = planned instanceof Promise ? await planned : planned; // no await for the usual, settled case
        if (!fit.ok) {
          if (route === primary) tooLong = fit.error;
          last = fit.error;
          route = chain.next('context_length');
          continue;
        }
        const fitted = fit.body ? { ...req, body: fit.body } : req;
        const routeReq = withAcceptedMeta(fitted, route === primary ? undefined : route.model.name, fit.applied);
        const outcome = await this.runModel(routeReq, route, deadline, attempts, fit.allow ? { allow: fit.allow } : {});
        if (outcome.ok) {
          if (route !== primary) outcome.result.meta.fallback = route.model.name;
          if (fit.applied) outcome.result.meta.applied = fit.applied;
          if (outcome.result.type === 'json') return outcome.result;
          handedOff = true; // the stream's end (or cancel) releases the deadline
          return this.surviving(routeReq, outcome.result, outcome.deployment, route, chain, deadline, attempts);
        }
        last = outcome.error;
        if (!outcome.attempted) unavailable.push(outcome.error);
        // Spent attempts end the chain here, so the answer is the last upstream error, not "no attempts left".
        if (deadline.signal.aborted || attempts.length >= primary.model.retry.max_attempts_per_request) break;
        route = chain.next(last.kind);
      }
      if (attempts.length === 0 && tooLong) throw new PipelineFailure(tooLong, attempts);
      const error = attempts.length === 0 && unavailable.length > 1 ? mergeUnavailable(unavailable) : last;
      throw new PipelineFailure(error ?? new GatewayError('unavailable', 'No deployment could be tried'), attempts);
    } catch (err) {
      if (err instanceof PipelineFailure) throw err;
      throw new PipelineFailure(toGatewayError(err), attempts);
    } finally {
      if (!handedOff) deadline.release();
    }
  }

  /**
   * The client's stream, kept alive: a chat stream that fails after its first token continues on a
   * prefill-capable deployment of the same model or its fallbacks (see resume.ts); other streams pass as is.
   */
  private surviving(
    req: GatewayRequest,
    first: StreamResult,
    d: Deployment,
    route: Route,
    chain: ModelChain,
    deadline: Deadline,
    attempts: AttemptRecord[],
  ): StreamResult {
    const release = (): void => deadline.release();
    const cancel = (): void => {
      first.cancel();
      release();
    };
    if (req.op !== 'chat') return { ...first, events: withFinally(first.events, release), cancel };
    let serving = route;
    // A continuation's chunks are rewritten (transcript.ts): the caller gets them from the stream only.
    const { onFirstToken: _, ...continued } = req;
    const open = async (body: Record<string, unknown>, failed: string): Promise<Segment> => {
      const next = { ...continued, body };
      let last: GatewayError | undefined;
      for (let r: Route | undefined = serving; r && !deadline.signal.aborted; r = chain.next('connection')) {
        // The continuation carries the answer so far: it must still fit the window where it goes.
        const fit = await this.fitter.fit(r, new PromptEstimate(body, undefined), false);
        if (!fit.ok) {
          last = fit.error;
          continue;
        }
        const allow = fit.allow ? (t: RoutedTarget) => canPrefill(t) && fit.allow!(t) : canPrefill;
        const outcome = await this.runModel(next, r, deadline, attempts, { allow, avoid: failed });
        if (outcome.ok && outcome.result.type === 'stream') {
          serving = r;
          return { events: outcome.result.events, body, deployment: outcome.deployment.id };
        }
        if (!outcome.ok) last = outcome.error;
      }
      throw deadline.signal.aborted ? abortError(deadline) : (last ?? new GatewayError('unavailable', 'no deployment supports prefill'));
    };
    const events = resumable({ events: first.events, body: req.body, deployment: d.id }, first.meta, {
      streaming: this.config.streaming,
      tokenizerModel: d.model,
      model: route.model.name,
      requestId: req.requestId,
      open,
      onEnd: release,
      ...(this.metrics ? { metrics: this.metrics } : {}),
      ...(this.logger ? { logger: this.logger } : {}),
    });
    return { type: 'stream', meta: first.meta, events, cancel };
  }

  private async runModel(
    req: GatewayRequest,
    route: Route,
    deadline: Deadline,
    attempts: AttemptRecord[],
    scope: Scope = {},
  ): Promise<ModelOutcome> {
    const { retry, timeouts } = route.model;
    const cap = req.route.model.retry.max_attempts_per_request; // the requested model's, across the whole chain
    const failovers = this.deployments.failovers(route.model.name);
    const excluded = new Set<string>(); // not to be used again by this request (hung, bad key, unknown model)
    const tried = new Set<string>(scope.avoid ? [scope.avoid] : []);
    let last: GatewayError | undefined;
    let retries = 0;
    let waits = 0;
    let waitedForHint = 0; // time spent in 'wait', reported on the attempt that follows it
    let prepaid = false; // the retry after a 'wait' was already charged to the budget and needs no extra backoff
    let attempted = false;
    let failover = true; // false once the model's failover budget refused: tried deployments only
    const stop = (error: GatewayError | undefined): ModelOutcome => ({
      ok: false,
      error: error ?? unavailableError(route, this.deployments, Date.now()),
      attempted,
    });

    if (!route.targets.some((t) => supports(t, req.op))) {
      const types = [...new Set(route.targets.map((t) => t.deployment.provider.type))].join(', ');
      return stop(
        new GatewayError('bad_request', `Model "${route.model.name}" cannot serve ${OP_NAMES[req.op]}: its providers (${types}) do not support it`, {
          code: 'unsupported_operation',
          param: 'model',
        }),
      );
    }
    if (scope.allow) {
      for (const t of route.targets) if (!scope.allow(t)) excluded.add(t.deployment.id);
      if (excluded.size === route.targets.length) {
        return stop(new GatewayError('unavailable', `No deployment of model "${route.model.name}" can continue a partial answer (supports_prefill)`));
      }
    }
    for (let n = 0; n < retry.max_attempts; ) {
      if (deadline.signal.aborted) return stop(abortError(deadline));
      if (attempts.length >= cap) return stop(last ?? attemptsSpent(cap));
      const now = Date.now();
      const choice: Choice = chooseTarget(req.op, route, this.deployments, excluded, tried, now, this.rand, { failover });
      let waitedMs = 0;
      if (choice.type === 'none') return stop(last ?? choice.error);
      if (choice.type === 'wait') {
        // Everything is cooling down; wait for the earliest only if the hint is short and the deadline allows.
        const wait = choice.until - now;
        if (wait > retry.max_retry_after_ms || wait >= deadline.remaining(now) || waits++ >= retry.max_attempts) {
          return stop(last ?? choice.error);
        }
        // Charged once: a waiter that wakes a moment early and waits the rest has not cost the upstream anything more.
        if (!prepaid && !this.deployments.budget(choice.deployment.id).tryRetry(now)) return stop(last ?? choice.error);
        await sleep(wait, deadline.signal).catch(() => undefined);
        waitedForHint += wait;
        prepaid = true;
        continue;
      }
      const d = choice.target.deployment;
      if (choice.type === 'retry' && !prepaid) {
        if (!this.deployments.budget(d.id).tryRetry(now)) return stop(last);
        // An upstream hint needs no floor here: health holds a deployment until its Retry-After has passed,
        // so a hinted deployment is never offered for a retry early (it comes back through the 'wait' path).
        waitedMs = retryDelay({ retryIndex: retries++, baseMs: retry.base_delay_ms, maxMs: retry.max_delay_ms, rand: this.rand });
        if (waitedMs >= deadline.remaining(now)) return stop(last);
        try {
          await sleep(waitedMs, deadline.signal);
        } catch {
          return stop(abortError(deadline));
        }
      }
      const health = this.deployments.health(d.id);
      if (!health.tryAcquire(Date.now())) {
        excluded.add(d.id); // a half-open probe is already out; don't count this as an attempt
        continue;
      }
      // Another deployment after a failure is an extra attempt too: the model's failover budget pays for it, or the
      // request keeps to the deployments it has tried (a retry after a backoff, or a wait for a cooldown).
      if (choice.type === 'fresh' && attempted && !failovers.tryRetry(Date.now())) {
        health.release();
        failover = false;
        continue;
      }
      if (!attempted) failovers.recordAttempt(Date.now());
      if (choice.type === 'fresh') this.deployments.budget(d.id).recordAttempt(Date.now());
      prepaid = false;
      n++;
      attempted = true;
      tried.add(d.id);
      waitedMs += waitedForHint;
      waitedForHint = 0;
      const record: AttemptRecord = { deployment: d.id, ms: 0, ...(waitedMs > 0 ? { waitedMs: Math.round(waitedMs) } : {}) };
      attempts.push(record);
      const input: AttemptInput = { transport: this.transport, op: req.op, body: req.body, timeouts, signal: deadline.signal };
      if (req.stream) input.maxEventBytes = this.config.streaming.max_event_bytes;
      if (req.raw?.of === req.body) input.raw = req.raw;
      const accepted = req.onStreamAccepted;
      if (accepted) input.onAccepted = (id) => accepted({ deployment: id, attempts: attempts.length });
      if (scope.allow) record.resume = true;
      const t0 = performance.now();
      try {
        if (req.stream) {
          const afterMs = hedgeDelay(route.model.hedge, this.firstTokenMs.get(route.model.name));
          if (req.onFirstToken && afterMs === undefined) input.onCommit = req.onFirstToken;
          const launch: Launch = { d, health, record, input, t0 };
          const won = await commitStream(launch, {
            afterMs,
            hedge: () =>
              attempts.length < cap
                ? launchHedge({ op: req.op, route, slow: d, input, excluded, tried, attempts, resume: scope.allow !== undefined }, this.deployments, this.rand)
                : undefined,
            deadline: deadline.signal,
            onHedge: (winner) => this.metrics?.hedges.inc({ model: route.model.name, winner }),
          });
          const ms = Math.round(performance.now() - won.t0);
          won.record.ms = ms;
          const onEnd = streamAccounting(won.health, deadline.signal, () => {
            this.succeeded(won.health, won.committed.response.headers, ms);
            this.firstTokenWindow(route.model.name).add(ms);
          });
          const events = relay(won.committed, won.d, onEnd);
          const cancel = (): void => {
            won.committed.response.discard();
            onEnd(undefined);
          };
          return { ok: true, deployment: won.d, result: { type: 'stream', events, cancel, meta: { deployment: won.d.id, attempts } } };
        }
        const { body, headers } = await attemptJson(input, d, record);
        record.ms = Math.round(performance.now() - t0);
        this.succeeded(health, headers, record.ms);
        health.release();
        return { ok: true, deployment: d, result: { type: 'json', body, meta: { deployment: d.id, attempts } } };
      } catch (err) {
        const error = toGatewayError(err);
        error.deployment ??= d.id;
        record.ms = Math.round(performance.now() - t0);
        record.kind = error.kind;
        record.status ??= error.upstreamStatus;
        const aborted = deadline.signal.aborted;
        // A client that left or a request out of time says nothing about the deployment's health.
        if (!aborted) health.recordFailure(Date.now(), error.kind, error.retryAfterMs);
        health.release();
        if (aborted) return stop(abortError(deadline));
        if (error.kind === 'auth') {
          this.logger?.error(
            { deployment: d.id, provider: d.provider.name, upstreamStatus: error.upstreamStatus },
            `upstream rejected the credentials of provider "${d.provider.name}": ${d.id} is out of rotation until the config is reloaded`,
          );
        }
        last = error;
        if (error.kind === 'bad_request' || error.kind === 'context_length' || error.kind === 'content_policy') return stop(error);
        const hintTooLong = (error.retryAfterMs ?? 0) > Math.min(retry.max_retry_after_ms, deadline.remaining());
        if (!error.retryable || error.kind === 'timeout' || hintTooLong) excluded.add(d.id);
      }
    }
    return stop(last);
  }

  private firstTokenWindow(model: string): LatencyWindow {
    let w = this.firstTokenMs.get(model);
    if (!w) {
      w = new LatencyWindow();
      this.firstTokenMs.set(model, w);
    }
    return w;
  }

  private succeeded(health: ReturnType<Deployments['health']>, headers: Parameters<typeof rateLimitResetMs>[0], ms: number) {
    const now = Date.now();
    health.recordSuccess(now, ms);
    const reset = rateLimitResetMs(headers, now);
    if (reset !== undefined) health.markExhausted(now + reset);
  }
}

const OP_NAMES: Record<Operation, string> = { chat: 'chat completions', embeddings: 'embeddings', responses: 'the Responses API' };

/** `req` whose stream-accepted callback also names the fallback model and the context changes, when there are any. */
function withAcceptedMeta(req: GatewayRequest, fallback: string | undefined, applied: string[] | undefined): GatewayRequest {
  const onAccepted = req.onStreamAccepted;
  if (!onAccepted || (!fallback && !applied)) return req;
  const extra = { ...(fallback ? { fallback } : {}), ...(applied ? { applied } : {}) };
  return { ...req, onStreamAccepted: (info) => onAccepted({ ...info, ...extra }) };
}

function wantsTransform(req: GatewayRequest, route: Route): boolean {
  return route.model.transforms.includes('middle-out') || (req.transforms?.includes('middle-out') ?? false);
}

/** When a model is reached with the request's attempts already spent (a stream's continuation): nothing to try. */
function attemptsSpent(cap: number): GatewayError {
  return new GatewayError('unavailable', `The request has made its ${cap} upstream attempts (retry.max_attempts_per_request)`, {
    code: 'attempts_exhausted',
    retryable: false,
  });
}

function abortError(deadline: Deadline): GatewayError {
  const reason: unknown = deadline.signal.reason;
  return reason instanceof GatewayError ? reason : deadline.expiredError();
}

