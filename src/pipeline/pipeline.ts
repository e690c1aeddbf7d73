import type { Config } from '../config/types.js';
import { GatewayError, toGatewayError } from '../errors.js';
import { Deadline } from '../resilience/deadline.js';
import { ModelChain } from '../routing/chain.js';
import type { Route, RoutedTarget } from '../routing/routes.js';
import type { Logger } from '../observability/logger.js';
import { encodingFor, PromptEstimate, preloadEncoding } from '../context/index.js';
import type { Metrics } from '../observability/metrics.js';
import type { Upstream } from '../types.js';
import type { AttemptRecord } from './attempt.js';
import { canPrefill, Deployments } from '../routing/deployments.js';
import { Fitter } from '../context/plan.js';
import { targetWindow } from './windows.js';
import { abortError, ModelLoop, type ModelOutcome, type Scope } from './model-loop.js';
import { type Resume, resumeWith, type Segment } from './resume.js';
import { type GatewayRequest, type GatewayResult, type ModelAnswer, PipelineFailure, type ResultMeta } from './request.js';
import type { StreamSink } from './sink.js';
import type { Feed } from './stream-attempt.js';
import { mergeUnavailable } from './unavailable.js';

export type { AttemptRecord } from './attempt.js';
export { type GatewayRequest, type GatewayResult, PipelineFailure, type ResultMeta } from './request.js';
export type { StreamInfo, StreamSink } from './sink.js';

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

  /**
   * Answers one request: a JSON answer; or a stream, written to `req.sink` from its first upstream's accept to its
   * last event (resolves once that is written, or the client went away). Fails with a PipelineFailure when no
   * model of the chain answered.
   */
  async run(req: GatewayRequest): Promise<GatewayResult> {
    const primary = req.route;
    const totalMs = Math.min(primary.model.timeouts.total_ms, req.timeoutMs ?? Number.POSITIVE_INFINITY);
    const deadline = new Deadline(totalMs, req.signal);
    const attempts: AttemptRecord[] = [];
    const chain = new ModelChain(primary, this.routes, req.fallbacks === false ? 0 : primary.model.retry.max_fallbacks);
    const course: Course = { chain, deadline, attempts };
    try {
      if (req.stream) return await this.stream(req, course);
      const { answer } = await this.answer(req, course);
      if (answer.type !== 'json') throw new GatewayError('internal', 'A request that was not streamed was answered with a stream');
      return answer;
    } catch (err) {
      if (err instanceof PipelineFailure) throw err;
      throw new PipelineFailure(toGatewayError(err), attempts);
    } finally {
      deadline.release();
    }
  }

  /** The chain's models in turn (their context fit, then their attempts) until one answers; else a PipelineFailure. */
  private async answer(req: GatewayRequest, { chain, deadline, attempts }: Course): Promise<Answered> {
    const primary = req.route;
    const unavailable: GatewayError[] = [];
    const estimate = req.op === 'chat' ? new PromptEstimate(req.body, req.bodyBytes) : undefined;
    let tooLong: GatewayError | undefined; // the requested model's own context verdict, if it had one
    let last: GatewayError | undefined;
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
      const routeReq = withStreamMeta(fitted, route === primary ? undefined : route.model.name, fit.applied);
      const outcome = await this.runModel(routeReq, route, deadline, attempts, fit.allow ? { allow: fit.allow } : {});
      if (outcome.ok) {
        if (route !== primary) outcome.result.meta.fallback = route.model.name;
        if (fit.applied) outcome.result.meta.applied = fit.applied;
        return { answer: outcome.result, route, body: routeReq.body };
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
  }

  /**
   * A stream: the answer's first segment commits through `req.sink` (the model loop writes its head there at once),
   * then its rest is pumped into the sink. A chat answer goes through a Resume (resume.ts) on its way: one that fails
   * after its first token continues on a prefill-capable deployment of the same model or its fallbacks.
   */
  private async stream(req: GatewayRequest, course: Course): Promise<GatewayResult> {
    const sink = req.sink;
    if (!sink) throw new GatewayError('internal', 'A stream request came without its sink');
    if (req.op !== 'chat') {
      const { answer } = await this.answer(req, course);
      const feed = streamOf(answer);
      const end = await feed.pump(sink, req.signal);
      if (end === 'done') sink.write({ type: 'done' });
      else if (end !== 'stopped') sink.write({ type: 'error', error: end });
      return { type: 'stream', meta: answer.meta };
    }
    let meta: ResultMeta | undefined;
    const serving: { route: Route } = { route: req.route };
    const resume: Resume = resumeWith(sink, () => meta ?? {}, {
      streaming: this.config.streaming,
      modelOf: (id) => modelOf(this.routes, id),
      model: req.route.model.name,
      requestId: req.requestId,
      open: (body, failed) => this.continuation({ ...req, body, sink: resume }, failed, serving, course),
      ...(this.metrics ? { metrics: this.metrics } : {}),
      ...(this.logger ? { logger: this.logger } : {}),
    });
    const { answer, route, body } = await this.answer({ ...req, sink: resume }, course);
    const feed = streamOf(answer);
    meta = answer.meta;
    serving.route = route;
    await resume.run({ feed, body, deployment: meta.deployment }, req.signal);
    return { type: 'stream', meta };
  }

  /**
   * The continuation of a chat answer whose stream failed (`req.body` carries the answer so far): the model that was
   * serving it first, then the chain's next, on prefill-capable deployments, `failed` tried last.
   */
  private async continuation(req: GatewayRequest, failed: string, serving: { route: Route }, { chain, deadline, attempts }: Course): Promise<Segment> {
    const body = req.body;
    let last: GatewayError | undefined;
    for (let r: Route | undefined = serving.route; r && !deadline.signal.aborted; r = chain.next('connection')) {
      // The continuation carries the answer so far: it must still fit the window where it goes.
      const fit = await this.fitter.fit(r, new PromptEstimate(body, undefined), false);
      if (!fit.ok) {
        last = fit.error;
        continue;
      }
      const allow = fit.allow ? (t: RoutedTarget) => canPrefill(t) && fit.allow!(t) : canPrefill;
      const outcome = await this.runModel(req, r, deadline, attempts, { allow, avoid: failed });
      if (outcome.ok && outcome.result.type === 'stream') {
        serving.route = r;
        return { feed: outcome.result.feed, body, deployment: outcome.deployment.id };
      }
      if (!outcome.ok) last = outcome.error;
    }
    throw deadline.signal.aborted ? abortError(deadline) : (last ?? new GatewayError('unavailable', 'no deployment supports prefill'));
  }

  private runModel(req: GatewayRequest, route: Route, deadline: Deadline, attempts: AttemptRecord[], scope: Scope = {}): Promise<ModelOutcome> {
    return this.loop.run(req, route, deadline, attempts, scope);
  }
}

/** What one request's attempts share across the chain's models and a stream's continuations. */
interface Course {
  chain: ModelChain;
  deadline: Deadline;
  attempts: AttemptRecord[];
}

/** A model's answer, the model (route) that gave it and the request body it was given. */
interface Answered {
  answer: ModelAnswer;
  route: Route;
  body: Record<string, unknown>;
}

/** `req` whose sink also hears the fallback model and the context changes with who answers, when there are any. */
function withStreamMeta(req: GatewayRequest, fallback: string | undefined, applied: string[] | undefined): GatewayRequest {
  const sink = req.sink;
  if (!sink || (!fallback && !applied)) return req;
  const extra = { ...(fallback ? { fallback } : {}), ...(applied ? { applied } : {}) };
  const withMeta: StreamSink = {
    accepted: (info) => sink.accepted({ ...info, ...extra }),
    commit: (info) => sink.commit({ ...info, ...extra }),
    write: (e, now) => sink.write(e, now),
    drained: () => sink.drained(),
  };
  return { ...req, sink: withMeta };
}

function streamOf(answer: ModelAnswer): Feed {
  if (answer.type === 'stream') return answer.feed;
  throw new GatewayError('internal', 'The upstream answered a stream request with JSON');
}

/** The upstream model of a deployment (the tokenizer counts a resumed answer's parts with it). */
function modelOf(routes: ReadonlyMap<string, Route>, deployment: string): string {
  for (const route of routes.values()) for (const t of route.targets) if (t.deployment.id === deployment) return t.deployment.model;
  return deployment;
}

function wantsTransform(req: GatewayRequest, route: Route): boolean {
  return route.model.transforms.includes('middle-out') || (req.transforms?.includes('middle-out') ?? false);
}
