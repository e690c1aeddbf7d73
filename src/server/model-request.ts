import { Cancel } from '../cancel.js';
import type { Config } from '../config/types.js';
import { GatewayError, toGatewayError } from '../errors.js';
import {
  type GatewayResult,
  type Pipeline,
  PipelineFailure,
  type StreamAccepted,
} from '../pipeline/index.js';
import type { RawBody, StreamEvent } from '../types.js';
import type { Route } from '../routing/routes.js';
import { checkModelLimit, parseJsonObject, readRequestBody } from './body.js';
import type { Exchange } from './adapters/exchange.js';
import { requestControls } from './controls.js';
import { attemptHeaders, metaHeaders } from './headers.js';
import type { IngressDialect, StreamWriter } from './ingress.js';
import { Heartbeat, relayStream, sseComment } from './relay.js';
import { shouldRetryHeader } from './retry-advice.js';
import type { RequestContext, Responder } from './respond.js';

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

export function modelRunner({ config, pipeline, routes, respond, isDraining, streams = { open: 0 } }: ModelRequestDeps): RunModel {
  const { json, fail } = respond;

  const runModel = async (ex: Exchange, ctx: RequestContext, dialect: IngressDialect): Promise<void> => {
    ctx.dialect = dialect;
    const raw = await readRequestBody(ex, ctx, config.server); // decompressed: raw.length is the request's size
    if (ctx.stopped) return;
    const text = raw.toString('utf8');
    const parsed = parseJsonObject(text);
    const { model, stream, canonical } = dialect.parse(parsed);
    ctx.model = model;
    const route = lookupRoute(routes, model);
    checkModelLimit(model, route.model.max_request_bytes, raw.length);
    const { max_concurrent, heartbeat_ms } = config.streaming;
    if (stream && max_concurrent > 0 && streams.open >= max_concurrent) {
      throw new GatewayError('unavailable', `The gateway is serving its limit of ${max_concurrent} concurrent streams; retry shortly`, {
        code: 'too_many_streams',
        retryAfterMs: 1000,
      });
    }
    if (stream) streams.open++;
    try {
      // The client's own text goes with the body when the dialect kept its object as the canonical request.
      const rawBody = canonical === parsed ? { of: canonical, text } : undefined;
      await runPipeline(ex, ctx, dialect, route, stream, canonical, heartbeat_ms, raw.length, rawBody);
    } finally {
      if (stream) streams.open--;
    }
  };

  const runPipeline = async (
    ex: Exchange,
    ctx: RequestContext,
    dialect: IngressDialect,
    route: Route,
    stream: boolean,
    canonical: Record<string, unknown>,
    heartbeatMs: number,
    bodyBytes: number,
    rawBody: RawBody | undefined,
  ): Promise<void> => {
    // A stream's writer before any upstream call: nothing to free when it cannot be made.
    const writer = stream ? dialect.streamWriter(canonical) : undefined;
    // Unless held (streaming.hold_headers), a stream's status and headers go out when an upstream accepts it, or
    // once the client has waited heartbeat_ms without one (retries, Retry-After waits, an upstream slow to answer):
    // from then on heartbeats keep the connection alive until the first token. `deployment` is unset in that case.
    let early: { deployment: string | undefined; heartbeat: Heartbeat; writer: StreamWriter } | undefined;
    const openEarly = (info: StreamAccepted | undefined): void => {
      if (early || !writer || ex.signal.aborted || ctx.stopped) return;
      ex.start(200, { ...writer.headers, 'x-request-id': ctx.requestId, ...(info ? metaHeaders(info) : {}) }, isDraining(), true);
      ctx.status = 200;
      ctx.writer = writer;
      early = { deployment: info?.deployment, heartbeat: new Heartbeat(ex, heartbeatMs), writer };
    };
    const onStreamAccepted = writer && !config.streaming.hold_headers ? (info: StreamAccepted) => openEarly(info) : undefined;
    const silence = onStreamAccepted
      ? setTimeout(() => {
          try {
            openEarly(undefined);
          } catch {
            // Nothing went out: the pipeline's own answer (or its error) is still to come, with the status then.
          }
        }, heartbeatMs)
      : undefined;
    // With the headers out, the first token is written the moment it is read, not after the pipeline has handed
    // the stream back; relayStream then skips those chunks. Not when a failover answered since the headers, nor when
    // they went out before any upstream accepted: the comment line naming who answers must come first, and that
    // path writes it.
    let prewritten = 0;
    let firstTokenSeen = false;
    const onFirstToken = onStreamAccepted
      ? (head: readonly StreamEvent[], deployment: string) => {
          if (firstTokenSeen) return; // once: the engine calls it for the first segment only, this holds it to that
          firstTokenSeen = true;
          if (!early || early.deployment !== deployment || ex.signal.aborted || ctx.stopped) return;
          let text = '';
          try {
            for (; prewritten < head.length && head[prewritten]?.type === 'chunk'; prewritten++) {
              text += early.writer.chunk(head[prewritten] as StreamEvent & { type: 'chunk' });
            }
          } catch {
            // The chunk that could not be written is the relay's to meet again (and to report), after these.
          }
          if (text !== '') ex.write(text, true);
          early.heartbeat.wrote();
        }
      : undefined;
    let result: GatewayResult;
    // Linked for the request's lifetime (the two go together): no unlink to do.
    const cancel = new Cancel();
    cancel.follow(ex.signal);
    ctx.cancel = cancel;
    try {
      result = await pipeline.run({
        op: dialect.op,
        route,
        body: canonical,
        stream,
        requestId: ctx.requestId,
        signal: cancel,
        bodyBytes,
        ...(rawBody ? { raw: rawBody } : {}),
        ...(onStreamAccepted ? { onStreamAccepted } : {}),
        ...(onFirstToken ? { onFirstToken } : {}),
        ...requestControls(ex.headers),
      });
    } catch (err) {
      clearTimeout(silence);
      const failure = err instanceof PipelineFailure ? err : undefined;
      if (failure) ctx.attempts = failure.attempts;
      if (ctx.stopped) return early?.heartbeat.stop();
      if (!early) {
        if (!failure) throw err;
        const attempts = failure.attempts.length;
        return fail(ex, ctx, failure.error, {
          ...attemptHeaders(failure.error.deployment, attempts),
          ...shouldRetryHeader(failure.error, attempts, route.model),
        });
      }
      // The 200 is out: the failure ends the stream as its error event, in the client's dialect.
      early.heartbeat.stop();
      ctx.error = failure?.error ?? toGatewayError(err);
      ctx.writer = undefined;
      ex.end(early.writer.error(ctx.error));
      return;
    }
    clearTimeout(silence);
    ctx.result = result.meta;
    if (ctx.stopped) {
      early?.heartbeat.stop();
      if (result.type === 'stream') result.cancel();
      return;
    }
    const headers = { 'x-request-id': ctx.requestId, ...metaHeaders(result.meta) };
    if (result.type === 'json') return json(ex, ctx, 200, dialect.renderJson(result.body), headers);
    if (!writer) {
      result.cancel(); // cannot happen: only a stream request is answered with a stream
      throw new GatewayError('internal', 'The upstream answered a request that was not streamed with a stream');
    }
    ctx.status = 200;
    let heartbeat: Heartbeat;
    if (early) {
      heartbeat = early.heartbeat;
      // The headers named the deployment that accepted first; a failover or a hedge since then is told here.
      if (result.meta.deployment !== early.deployment) ex.write(sseComment(Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('; ')));
    } else {
      try {
        ex.start(200, { ...writer.headers, ...headers }, isDraining());
      } catch (err) {
        result.cancel(); // the stream will never be read: free its upstream now
        throw err;
      }
      ctx.writer = writer;
      heartbeat = new Heartbeat(ex, heartbeatMs);
    }
    const error = await relayStream(ex, result.events, writer, heartbeat, prewritten);
    ctx.writer = undefined; // over: a shutdown from now on finds nothing to end
    if (error && !ctx.stopped) ctx.error = error;
  };

  return runModel;
}
