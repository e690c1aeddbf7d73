import type { Config } from '../config/types.js';
import { toGatewayError } from '../errors.js';
import { type Logger, requestLineWriter } from '../observability/logger.js';
import { transitionLogger } from '../observability/health-log.js';
import { Metrics } from '../observability/metrics.js';
import { requestIdFrom } from '../observability/request-id.js';
import type { Tracing } from '../observability/tracing.js';
import type { Deployments } from '../routing/deployments.js';
import { attemptsSettled, Pipeline } from '../pipeline/index.js';
import { buildRoutes } from '../routing/routes.js';
import { configSecrets } from '../secrets.js';
import type { Transport } from '../transport/index.js';
import { countTokensHandler } from './count-tokens.js';
import { endpoints, router } from './endpoints.js';
import type { Exchange } from './adapters/exchange.js';
import { Inflight, shuttingDown } from './inflight.js';
import { modelRunner } from './model-request.js';
import { deploymentPrices, logRequest, requestLineLevel, summarize } from './request-log.js';
import { type RequestContext, responder } from './respond.js';

// Kept importable from here (the tests and older imports use it).
export { headerSafe } from './headers.js';

export interface AppDeps {
  config: Config;
  transport: Transport;
  logger: Logger;
  /** Shared with the engines a config reload replaces and the one it builds (see reload.ts); else made here. */
  metrics?: Metrics;
  /** The gateway's tracer provider when `tracing.otlp_endpoint` is set (see reload.ts); undefined: no spans. */
  tracing?: Tracing | undefined;
  deployments?: Deployments;
  streams?: { open: number };
  /** Serves `POST /admin/reload`. */
  reload?: () => { status: number; body: string };
  /** Serves `GET /admin/deployments`. */
  adminDeployments?: () => { status: number; body: string };
}

export interface App {
  handle(ex: Exchange): Promise<void>;
  /**
   * Turns /ready to 503 and asks clients not to reuse connections; every new request but the probes (/health,
   * /ready, /metrics), and a request pipelined behind another on its connection, is answered 503
   * `server_shutting_down` at once, so that none holds the drain open.
   */
  startDraining(): void;
  /**
   * Ends every request still in flight: a stream with an error event (`server_shutting_down`, in its dialect),
   * a request not yet answered with a 503. Resolves when each has finished (and been logged).
   */
  stopAll(): Promise<void>;
}

/**
 * The gateway's HTTP API over any transport of exchanges (node:http in serve.ts, WHATWG fetch in adapters/fetch.ts):
 * it owns the per-request bookkeeping (the request line, the in-flight set a shutdown reaches) and the drain state.
 * The routes and what each answers are in endpoints.ts; a model request's path through the pipeline in model-request.ts.
 */
export function createApp({ config, transport, logger, deployments, streams, reload, tracing, adminDeployments, metrics = new Metrics() }: AppDeps): App {
  const routes = buildRoutes(config);
  const pipeline = new Pipeline(config, transport, routes, { logger, metrics, ...(deployments ? { deployments } : {}) });
  const secrets = configSecrets(config);
  const writeLine = { info: requestLineWriter(logger, secrets), debug: requestLineWriter(logger, secrets, 'debug') };
  let draining = false;
  const isDraining = (): boolean => draining;
  const inflight = new Inflight<{ ex: Exchange; ctx: RequestContext }>();
  const respond = responder(isDraining);
  const open = streams ?? { open: 0 };
  const runModel = modelRunner({ config, pipeline, routes, respond, isDraining, streams: open });
  // Metrics: label values only from this config's names; the gauges read this engine's state (the newest engine's).
  const prices = deploymentPrices(routes);
  metrics.know(routes.keys(), [...prices.keys()]);
  metrics.watch({ deployments: (now) => pipeline.deployments.snapshot(now), streams: open });
  pipeline.deployments.listen(transitionLogger(logger)); // breaker and rotation changes, each a log line
  const countTokens = countTokensHandler({ config, routes, respond });
  const api = router(endpoints({ routes, metrics, respond, isDraining, runModel, countTokens, ...(reload ? { reload } : {}), ...(adminDeployments ? { adminDeployments } : {}) }));

  /** The shutdown's end of one request (see `stopAll`). */
  const stop = (ex: Exchange, ctx: RequestContext): void => {
    if (ctx.stopped || ex.signal.aborted) return;
    const err = shuttingDown();
    if (ctx.status === undefined) respond.fail(ex, ctx, err);
    else if (ctx.stream) ctx.stream.stop(err);
    else return; // a whole answer already on its way
    ctx.stopped = true;
    ctx.cancel?.abort(err);
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
      const endpoint = api.find(ex.path);
      const trace = tracing?.request(ex.method, endpoint?.path, ex.path, ex.headers);
      if (trace) ctx.trace = trace;
      const route = endpoint?.path ?? 'other';
      metrics.started(route);
      // Errors on a route of another dialect (the Anthropic ones, even for a wrong method) come in its shape.
      if (endpoint?.dialect) ctx.dialect = endpoint.dialect(ctx.requestId);
      try {
        // While the gateway drains only the probes are answered: new work goes elsewhere (and a request pipelined
        // behind another, even a probe, is answered at once rather than held behind it).
        if (draining && (ex.queued?.() || !endpoint?.probe)) throw shuttingDown();
        await api.dispatch(ex, endpoint)(ex, ctx);
      } catch (err) {
        if (ctx.stopped) return; // answered by the shutdown; whatever the request ran into since is its echo
        const error = toGatewayError(err);
        if (error.kind === 'internal') logger.error({ err, requestId: ctx.requestId }, 'internal error');
        if (ctx.status === undefined) {
          const extra: Record<string, string> = error.kind === 'method_not_allowed' ? { allow: api.allow(endpoint) } : {};
          respond.fail(ex, ctx, error, extra);
        }
      } finally {
        // Its status as the request line says it (499: the client left first).
        trace?.end({ status: ex.signal.aborted && !ctx.stopped ? 499 : ctx.status, requestId: ctx.requestId, model: ctx.model, op: ctx.dialect?.op, result: ctx.result, attempts: ctx.attempts, error: ctx.error });
        const ended = performance.now();
        // A hedge loser's cost may still be being counted (in slices); the client has its answer already.
        const settling = attemptsSettled(ctx.result?.attempts ?? ctx.attempts ?? []);
        if (settling) await settling;
        // Counted once, from what the request recorded: its metrics, and its line.
        const summary = summarize(ex, ctx, route, started, ended, prices);
        metrics.record(summary);
        const level = requestLineLevel(endpoint?.probe === true, ex, ctx);
        if (logger.isLevelEnabled(level)) logRequest(writeLine[level], ex, ctx, summary);
        inflight.delete(entry);
      }
    },
  };
}
