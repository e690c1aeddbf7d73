import { Cancel } from '../cancel.js';
import { TRANSFORM_NAMES } from '../config/schema.js';
import type { Config, Transform } from '../config/types.js';
import { GatewayError, toGatewayError } from '../errors.js';
import { type Logger, requestLineWriter } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { requestIdFrom } from '../observability/request-id.js';
import { configSecrets } from '../secrets.js';
import {
  attemptsSettled,
  Pipeline,
  PipelineFailure,
  type AttemptRecord,
  type GatewayResult,
  type RawBody,
  type ResultMeta,
  type StreamAccepted,
} from '../pipeline/index.js';
import { buildRoutes, type Route } from '../routing/routes.js';
import type { StreamEvent } from '../providers/types.js';
import type { Transport } from '../transport/index.js';
import { anthropicMessages } from './anthropic-dialect.js';
import { checkModelLimit, parseJsonObject, readBody } from './body.js';
import type { Exchange } from './exchange.js';
import { Inflight, shuttingDown } from './inflight.js';
import type { IngressDialect, StreamWriter } from './ingress.js';
import { Heartbeat, relayStream, sseComment } from './relay.js';
import { openAIChat, openAIEmbeddings, openAIResponses } from './openai-dialect.js';

export interface AppDeps {
  config: Config;
  transport: Transport;
  logger: Logger;
}

export interface App {
  handle(ex: Exchange): Promise<void>;
  /**
   * Turns /ready to 503 and asks clients not to reuse connections; a request pipelined behind another on its
   * connection is answered 503 `server_shutting_down` at once, so that it does not hold the drain open.
   */
  startDraining(): void;
  /**
   * Ends every request still in flight: a stream with an error event (`server_shutting_down`, in its dialect),
   * a request not yet answered with a 503. Resolves when each has finished (and been logged).
   */
  stopAll(): Promise<void>;
}

type Handler = (ex: Exchange, ctx: RequestContext) => Promise<void>;

interface RequestContext {
  requestId: string;
  /** Set once the route is known: errors from then on are rendered in its shape. */
  dialect?: IngressDialect;
  model?: string;
  result?: ResultMeta;
  attempts?: AttemptRecord[];
  status?: number;
  error?: GatewayError;
  /** The request body was read to its end. */
  bodyRead?: boolean;
  /** The pipeline's signal: the client going away aborts it, and so does the gateway's shutdown. */
  cancel?: Cancel;
  /** A stream's writer, once its status and headers are out. */
  writer?: StreamWriter;
  /** Ended by the gateway's shutdown: nothing more is written, and no other outcome is recorded. */
  stopped?: boolean;
}

export function createApp({ config, transport, logger }: AppDeps): App {
  const routes = buildRoutes(config);
  const metrics = new Metrics();
  const pipeline = new Pipeline(config, transport, routes, { logger, metrics });
  const modelNames = [...routes.keys()];
  const writeLine = requestLineWriter(logger, configSecrets(config));
  let draining = false;
  let openStreams = 0;
  const inflight = new Inflight<{ ex: Exchange; ctx: RequestContext }>();

  const json = (ex: Exchange, ctx: RequestContext, status: number, body: string, extra: Record<string, string> = {}) => {
    ctx.status = status;
    // A length instead of chunked framing: the whole body is known.
    ex.start(status, { 'content-type': 'application/json', 'content-length': byteLength(body), 'x-request-id': ctx.requestId, ...extra }, draining);
    ex.end(body);
  };

  const fail = (ex: Exchange, ctx: RequestContext, err: GatewayError, extra: Record<string, string> = {}) => {
    ctx.error = err;
    ctx.status = err.status;
    // A body left unread (an error before it was read, or a read that failed) would be read and discarded by
    // node to keep the connection: without a bound when it is chunked. Closing the connection ends it instead.
    const unreadBody = !ctx.bodyRead && (ex.headers['transfer-encoding'] !== undefined || (ex.declaredLength ?? 0) > 0);
    const close = draining || unreadBody || err.kind === 'payload_too_large';
    const dialect = ctx.dialect ?? openAIChat;
    const body = dialect.errorBody(err);
    ex.start(err.status, { ...dialect.errorHeaders(err), 'content-length': byteLength(body), 'x-request-id': ctx.requestId, ...extra }, close);
    ex.end(body);
  };

  /** The shutdown's end of one request (see `stopAll`). */
  const stop = (ex: Exchange, ctx: RequestContext): void => {
    if (ctx.stopped || ex.signal.aborted) return;
    const err = shuttingDown();
    if (ctx.status === undefined) fail(ex, ctx, err);
    else if (ctx.writer) {
      ctx.error = err;
      ctx.status = err.status; // logged as what it is: the gateway ended it, the client did not go away
      ex.end(ctx.writer.error(err));
    } else return; // a whole answer already on its way
    ctx.stopped = true;
    ctx.cancel?.abort(err);
  };

  const lookupRoute = (model: string): Route => {
    const route = routes.get(model);
    if (route) return route;
    throw new GatewayError('not_found', `The model '${model}' does not exist on this gateway. Known models: ${modelNames.join(', ')}`, {
      code: 'model_not_found',
      param: 'model',
    });
  };

  const runModel = async (ex: Exchange, ctx: RequestContext, dialect: IngressDialect): Promise<void> => {
    ctx.dialect = dialect;
    let raw: Buffer;
    try {
      raw = await readBody(ex, config.server.max_body_bytes, config.server.body_timeout_ms); // decompressed: raw.length is the request's size
    } catch (err) {
      // A body that could not be decoded was still read to its end (so the connection stays usable).
      if (err instanceof GatewayError && err.code === 'invalid_body_encoding') ctx.bodyRead = true;
      throw err;
    }
    ctx.bodyRead = true;
    if (ctx.stopped) return;
    const text = raw.toString('utf8');
    const parsed = parseJsonObject(text);
    const { model, stream, canonical } = dialect.parse(parsed);
    ctx.model = model;
    const route = lookupRoute(model);
    checkModelLimit(model, route.model.max_request_bytes, raw.length);
    const { max_concurrent, heartbeat_ms } = config.streaming;
    if (stream && max_concurrent > 0 && openStreams >= max_concurrent) {
      throw new GatewayError('unavailable', `The gateway is serving its limit of ${max_concurrent} concurrent streams; retry shortly`, {
        code: 'too_many_streams',
        retryAfterMs: 1000,
      });
    }
    if (stream) openStreams++;
    try {
      // The client's own text goes with the body when the dialect kept its object as the canonical request.
      const rawBody = canonical === parsed ? { of: canonical, text } : undefined;
      await runPipeline(ex, ctx, dialect, route, stream, canonical, heartbeat_ms, raw.length, rawBody);
    } finally {
      if (stream) openStreams--;
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
    // Unless held (streaming.hold_headers), a stream's status and headers go out when an upstream accepts it.
    let early: { deployment: string; heartbeat: Heartbeat; writer: StreamWriter } | undefined;
    const onStreamAccepted =
      writer && !config.streaming.hold_headers
        ? (info: StreamAccepted) => {
            if (early || ex.signal.aborted || ctx.stopped) return;
            ctx.status = 200;
            ctx.writer = writer;
            ex.start(200, { ...writer.headers, 'x-request-id': ctx.requestId, ...metaHeaders(info) }, draining, true);
            early = { deployment: info.deployment, heartbeat: new Heartbeat(ex, heartbeatMs), writer };
          }
        : undefined;
    // With the headers out, the first token is written the moment it is read, not after the pipeline has handed
    // the stream back; relayStream then skips those chunks. Not when a failover answered since the headers: its
    // comment line must come first, and that path writes it.
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
      const failure = err instanceof PipelineFailure ? err : undefined;
      if (failure) ctx.attempts = failure.attempts;
      if (ctx.stopped) return early?.heartbeat.stop();
      if (!early) {
        if (!failure) throw err;
        return fail(ex, ctx, failure.error, attemptHeaders(failure.error.deployment, failure.attempts.length));
      }
      // The 200 is out: the failure ends the stream as its error event, in the client's dialect.
      early.heartbeat.stop();
      ctx.error = failure?.error ?? toGatewayError(err);
      ctx.writer = undefined;
      ex.end(early.writer.error(ctx.error));
      return;
    }
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
        ex.start(200, { ...writer.headers, ...headers }, draining);
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

  const get = (handler: Handler) => ({ GET: handler });
  const post = (handler: Handler) => ({ POST: handler });
  const table: Record<string, Record<string, Handler>> = {
    '/v1/chat/completions': post((ex, ctx) => runModel(ex, ctx, openAIChat)),
    '/v1/embeddings': post((ex, ctx) => runModel(ex, ctx, openAIEmbeddings)),
    '/v1/responses': post((ex, ctx) => runModel(ex, ctx, openAIResponses)),
    '/v1/messages': post((ex, ctx) => runModel(ex, ctx, ctx.dialect ?? anthropicMessages(ctx.requestId))),
    '/v1/models': get(async (ex, ctx) => json(ex, ctx, 200, modelsList(modelNames))),
    '/health': get(async (ex, ctx) => json(ex, ctx, 200, '{"status":"ok"}')),
    '/metrics': get(async (ex, ctx) => {
      const body = await metrics.render();
      ctx.status = 200;
      ex.start(200, { 'content-type': metrics.contentType, 'content-length': byteLength(body), 'x-request-id': ctx.requestId });
      ex.end(body);
    }),
    '/ready': get(async (ex, ctx) =>
      draining ? json(ex, ctx, 503, '{"status":"draining"}') : json(ex, ctx, 200, '{"status":"ready"}'),
    ),
  };

  const dispatch = (ex: Exchange): Handler => {
    const methods = table[ex.path] ?? (ex.path.startsWith('/v1/models/') ? get(modelHandler(routes)) : undefined);
    if (!methods) {
      throw new GatewayError('not_found', `Unknown path ${ex.path}`, { code: 'unknown_url' });
    }
    const handler = methods[ex.method];
    if (handler) return handler;
    const allowed = Object.keys(methods).join(', ');
    throw new GatewayError('method_not_allowed', `${ex.method} is not allowed on ${ex.path}; use ${allowed}`, {
      code: 'method_not_allowed',
    });
  };

  return {
    startDraining() {
      draining = true;
      for (const { ex, ctx } of inflight.all()) if (ex.queued?.()) stop(ex, ctx);
    },
    stopAll() {
      for (const { ex, ctx } of inflight.all()) stop(ex, ctx);
      return inflight.empty();
    },
    async handle(ex) {
      const started = performance.now();
      const ctx: RequestContext = { requestId: requestIdFrom(ex.headers['x-request-id']) };
      const entry = { ex, ctx };
      inflight.add(entry);
      // Errors on the Anthropic route (even a wrong method) come in Anthropic's shape.
      if (ex.path === '/v1/messages') ctx.dialect = anthropicMessages(ctx.requestId);
      try {
        // Pipelined behind another request while the gateway drains: that one's answer closes the connection.
        if (draining && ex.queued?.()) throw shuttingDown();
        await dispatch(ex)(ex, ctx);
      } catch (err) {
        if (ctx.stopped) return; // answered by the shutdown; whatever the request ran into since is its echo
        const error = toGatewayError(err);
        if (error.kind === 'internal') logger.error({ err, requestId: ctx.requestId }, 'internal error');
        if (ctx.status === undefined) {
          const extra: Record<string, string> = error.kind === 'method_not_allowed' ? { allow: allowFor(ex.path, table) } : {};
          fail(ex, ctx, error, extra);
        }
      } finally {
        if (logger.isLevelEnabled('info')) {
          const ms = performance.now() - started;
          // A hedge loser's cost may still be being counted (in slices); the client has its answer already.
          const settling = attemptsSettled(ctx.result?.attempts ?? ctx.attempts ?? []);
          if (settling) await settling;
          logRequest(writeLine, ex, ctx, ms);
        }
        inflight.delete(entry);
      }
    },
  };
}

/** The per-request knobs a client may turn: only ever narrowing what the config allows. */
function requestControls(headers: Exchange['headers']): { timeoutMs?: number; fallbacks?: boolean; transforms?: Transform[] } {
  const controls: { timeoutMs?: number; fallbacks?: boolean; transforms?: Transform[] } = {};
  const timeout = one(headers['x-lifeline-timeout-ms']);
  if (timeout !== undefined) {
    const ms = Number(timeout);
    if (!/^\d+$/.test(timeout.trim()) || ms <= 0) {
      throw new GatewayError('bad_request', `Header x-lifeline-timeout-ms must be a positive whole number of milliseconds, got "${timeout.slice(0, 40)}"`, {
        code: 'invalid_header',
        param: 'x-lifeline-timeout-ms',
      });
    }
    controls.timeoutMs = ms;
  }
  const fallbacks = one(headers['x-lifeline-fallbacks'])?.trim().toLowerCase();
  if (fallbacks === 'off' || fallbacks === 'false' || fallbacks === '0') controls.fallbacks = false;
  const transforms = one(headers['x-lifeline-transforms']);
  if (transforms !== undefined) {
    const names = transforms.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean);
    const unknown = names.filter((n) => !(TRANSFORM_NAMES as readonly string[]).includes(n));
    if (unknown.length > 0) {
      throw new GatewayError('bad_request', `Header x-lifeline-transforms: unknown transform "${unknown[0]?.slice(0, 40)}" (valid: ${TRANSFORM_NAMES.join(', ')})`, {
        code: 'invalid_header',
        param: 'x-lifeline-transforms',
      });
    }
    controls.transforms = names as Transform[];
  }
  return controls;
}

function byteLength(body: string): string {
  return String(Buffer.byteLength(body));
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function metaHeaders(meta: Pick<ResultMeta, 'deployment' | 'fallback' | 'applied'> & { attempts: number | readonly unknown[] }): Record<string, string> {
  const h = attemptHeaders(meta.deployment, typeof meta.attempts === 'number' ? meta.attempts : meta.attempts.length);
  if (meta.fallback) h['x-lifeline-fallback'] = headerSafe(meta.fallback);
  if (meta.applied) h['x-lifeline-transformed'] = headerSafe(meta.applied.join('; '));
  return h;
}

function attemptHeaders(deployment: string | undefined, attempts: number): Record<string, string> {
  const h: Record<string, string> = { 'x-lifeline-attempts': String(attempts) };
  if (deployment) h['x-lifeline-deployment'] = headerSafe(deployment);
  return h;
}

/** Config names may hold any characters; a header value may not. Printable ASCII passes as is, the rest is %-encoded. */
export function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

function modelsList(names: string[]): string {
  return JSON.stringify({ object: 'list', data: names.map(modelObject) });
}

function modelObject(id: string) {
  return { id, object: 'model', created: 0, owned_by: 'lifeline' };
}

function modelHandler(routes: ReadonlyMap<string, Route>): Handler {
  return async (ex, ctx) => {
    const id = modelIdFrom(ex.path);
    if (!routes.has(id)) {
      throw new GatewayError('not_found', `The model '${id}' does not exist on this gateway`, { code: 'model_not_found', param: 'model' });
    }
    ctx.status = 200;
    ex.start(200, { 'content-type': 'application/json', 'x-request-id': ctx.requestId });
    ex.end(JSON.stringify(modelObject(id)));
  };
}

/** The model id of a `/v1/models/<id>` path, percent-decoded; a 400 when the encoding is broken (`%`, `%E0%A4%A`). */
function modelIdFrom(path: string): string {
  const encoded = path.slice('/v1/models/'.length);
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new GatewayError('bad_request', `The path ${path.slice(0, 200)} is not valid percent-encoding: each % must begin a %XX escape, and the escapes must spell UTF-8`, {
      code: 'invalid_path',
    });
  }
}

function allowFor(path: string, table: Record<string, Record<string, Handler>>): string {
  return Object.keys(table[path] ?? { GET: 0 }).join(', ');
}

function logRequest(write: ReturnType<typeof requestLineWriter>, ex: Exchange, ctx: RequestContext, ms: number): void {
  // The client went away before its response was complete (mid-upload, while waiting, mid-stream): 499, as nginx
  // logs it, rather than whatever error the gateway was about to answer with.
  const status = ex.signal.aborted && !ctx.stopped ? 499 : ctx.status;
  write(
    {
      requestId: ctx.requestId,
      method: ex.method,
      path: ex.path,
      model: ctx.model,
      status,
      ms: Math.round(ms * 10) / 10,
      deployment: ctx.result?.deployment ?? ctx.error?.deployment,
      attempts: ctx.result?.attempts ?? ctx.attempts,
      resumes: ctx.result?.resumes,
      transformed: ctx.result?.applied,
      usage: ctx.result?.usage,
      error: ctx.error ? { kind: ctx.error.kind, code: ctx.error.code, message: ctx.error.message } : undefined,
    },
    'request',
  );
}
