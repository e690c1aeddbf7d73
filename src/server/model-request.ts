import { Cancel } from '../cancel.js';
import type { Config } from '../config/types.js';
import { GatewayError, toGatewayError } from '../errors.js';
import { type GatewayRequest, type GatewayResult, type Pipeline, PipelineFailure } from '../pipeline/index.js';
import type { Route } from '../routing/routes.js';
import type { Exchange } from './adapters/exchange.js';
import { checkModelLimit, parseJsonObject, readRequestBody } from './body.js';
import { requestControls } from './controls.js';
import { attemptHeaders, metaHeaders } from './headers.js';
import type { IngressDialect } from './ingress.js';
import type { RequestContext, Responder } from './respond.js';
import { shouldRetryHeader } from './retry-advice.js';
import { StreamResponse } from './stream-response.js';

/** Answers one request for a model (chat, embeddings, responses, messages) through the pipeline. */
export type RunModel = (ex: Exchange, ctx: RequestContext, dialect: IngressDialect) => Promise<void>;

export interface ModelRequestDeps {
  config: Config;
  pipeline: Pipeline;
  routes: ReadonlyMap<string, Route>;
  respond: Responder;
  isDraining: () => boolean;
  /** Streams open, shared with the engines a config reload replaced (whose streams still count). */
  streams?: { open: number };
}

/** The route of a configured model; else a 404 naming the models there are. */
export function lookupRoute(routes: ReadonlyMap<string, Route>, model: string): Route {
  const route = routes.get(model);
  if (route) return route;
  throw new GatewayError('not_found', `The model '${model}' does not exist on this gateway. Known models: ${[...routes.keys()].join(', ')}`, {
    code: 'model_not_found',
    param: 'model',
  });
}

/**
 * A model request's path: the body read and parsed in the client's dialect, its model's route, then the pipeline;
 * the answer goes back as JSON, or as a stream (stream-response.ts: the pipeline writes it as it comes).
 */
export function modelRunner(deps: ModelRequestDeps): RunModel {
  const { config, routes } = deps;
  const streams = deps.streams ?? { open: 0 };
  return async (ex, ctx, dialect) => {
    ctx.dialect = dialect;
    const raw = await readRequestBody(ex, ctx, config.server); // decompressed: raw.length is the request's size
    if (ctx.stopped) return;
    const text = raw.toString('utf8');
    const parsed = parseJsonObject(text);
    const { model, stream, canonical } = dialect.parse(parsed);
    ctx.model = model;
    const route = lookupRoute(routes, model);
    checkModelLimit(model, route.model.max_request_bytes, raw.length);
    const { max_concurrent } = config.streaming;
    if (stream && max_concurrent > 0 && streams.open >= max_concurrent) {
      throw new GatewayError('unavailable', `The gateway is serving its limit of ${max_concurrent} concurrent streams; retry shortly`, {
        code: 'too_many_streams',
        retryAfterMs: 1000,
      });
    }
    // The pipeline's signal: the client going away aborts it, and so does the gateway's shutdown (app.ts). Linked
    // for the request's lifetime (the two go together): no unlink to do.
    const cancel = new Cancel();
    cancel.follow(ex.signal);
    ctx.cancel = cancel;
    const request: GatewayRequest = {
      op: dialect.op,
      route,
      body: canonical,
      stream,
      requestId: ctx.requestId,
      signal: cancel,
      trace: ctx.trace,
      bodyBytes: raw.length,
      // The client's own text goes with the body when the dialect kept its object as the canonical request.
      ...(canonical === parsed ? { raw: { of: canonical, text } } : {}),
      ...requestControls(ex.headers),
    };
    if (!stream) return answerJson(deps, ex, ctx, dialect, request);
    streams.open++;
    try {
      await answerStream(deps, ex, ctx, dialect, request);
    } finally {
      streams.open--;
    }
  };
}

async function answerJson(deps: ModelRequestDeps, ex: Exchange, ctx: RequestContext, dialect: IngressDialect, request: GatewayRequest): Promise<void> {
  let result: GatewayResult;
  try {
    result = await deps.pipeline.run(request);
  } catch (err) {
    return failed(deps.respond, ex, ctx, err, request.route);
  }
  ctx.result = result.meta;
  if (ctx.stopped) return;
  if (result.type !== 'json') throw new GatewayError('internal', 'The upstream answered a request that was not streamed with a stream');
  deps.respond.json(ex, ctx, 200, dialect.renderJson(result.body), { 'x-request-id': ctx.requestId, ...metaHeaders(result.meta) });
}

async function answerStream(deps: ModelRequestDeps, ex: Exchange, ctx: RequestContext, dialect: IngressDialect, request: GatewayRequest): Promise<void> {
  const { heartbeat_ms, hold_headers } = deps.config.streaming;
  // A stream's writer before any upstream call: nothing to free when it cannot be made.
  const response = new StreamResponse(ex, ctx, dialect.streamWriter(request.body), {
    heartbeatMs: heartbeat_ms,
    holdHeaders: hold_headers,
    isDraining: deps.isDraining,
  });
  let result: GatewayResult;
  try {
    result = await deps.pipeline.run({ ...request, sink: response });
  } catch (err) {
    return failed(deps.respond, ex, ctx, err, request.route, response);
  } finally {
    response.close();
  }
  ctx.result = result.meta;
  if (response.broken !== undefined && !ctx.stopped) throw response.broken;
}

/**
 * The pipeline failed. A stream whose status is out ends with the error as its last event; else the error is the
 * answer, with its status, the attempts made and whether the client should retry.
 */
function failed(respond: Responder, ex: Exchange, ctx: RequestContext, err: unknown, route: Route, stream?: StreamResponse): void {
  const failure = err instanceof PipelineFailure ? err : undefined;
  if (failure) ctx.attempts = failure.attempts;
  if (ctx.stopped) return;
  if (stream?.fail(failure?.error ?? toGatewayError(err))) return;
  if (!failure) throw err;
  const attempts = failure.attempts.length;
  respond.fail(ex, ctx, failure.error, {
    ...attemptHeaders(failure.error.deployment, attempts),
    ...shouldRetryHeader(failure.error, attempts, route.model),
  });
}
