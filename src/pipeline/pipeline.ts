import type { Config } from '../config/types.js';
import { GatewayError, toGatewayError } from '../errors.js';
import { Deadline } from '../resilience/deadline.js';
import { ModelChain } from '../routing/chain.js';
import type { Route, RoutedTarget } from '../routing/routes.js';
import type { Logger } from '../observability/logger.js';
import { encodingFor, PromptEstimate, preloadEncoding } from '../context/index.js';
import type { Metrics } from '../observability/metrics.js';
import type { Deployment, Upstream } from '../types.js';
import type { AttemptRecord } from './attempt.js';
import { canPrefill, Deployments } from '../routing/deployments.js';
import { Fitter } from '../context/plan.js';
import { targetWindow } from './windows.js';
import { abortError, ModelLoop, type ModelOutcome, type Scope } from './model-loop.js';
import { resumable, type Segment, withFinally } from './resume.js';
import { type GatewayRequest, type GatewayResult, PipelineFailure } from './request.js';
import { mergeUnavailable } from './unavailable.js';

export type { AttemptRecord } from './attempt.js';
export { type GatewayRequest, type GatewayResult, PipelineFailure, type ResultMeta, type StreamAccepted } from './request.js';

type StreamResult = Extract<GatewayResult, { type: 'stream' }>;

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
  private readonly fitter: Fitter<RoutedTarget, Route>;
  private readonly logger: Logger | undefined;
  private readonly metrics: Metrics | undefined;
  /** One model's attempts (model-loop.ts). */
  private readonly loop: ModelLoop;

  constructor(
    private readonly config: Config,
    upstream: Upstream,
    private readonly routes: ReadonlyMap<string, Route>,
    options: PipelineOptions = {},
  ) {
    this.deployments = options.deployments ?? new Deployments(config);
    this.fitter = new Fitter<RoutedTarget, Route>(routes, targetWindow);
    this.logger = options.logger;
    this.metrics = options.metrics;
    const rand = options.rand ?? Math.random;
    this.loop = new ModelLoop({ config, upstream, deployments: this.deployments, rand, logger: this.logger, metrics: this.metrics });
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

  private runModel(req: GatewayRequest, route: Route, deadline: Deadline, attempts: AttemptRecord[], scope: Scope = {}): Promise<ModelOutcome> {
    return this.loop.run(req, route, deadline, attempts, scope);
  }
}

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
