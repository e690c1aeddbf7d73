import { GatewayError } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';
import type { Route } from '../routing/routes.js';
import { anthropicMessages } from './dialects/anthropic/dialect.js';
import type { Exchange } from './adapters/exchange.js';
import { byteLength } from './headers.js';
import type { IngressDialect } from './ingress.js';
import type { RunModel } from './model-request.js';
import { openAIChat, openAIEmbeddings, openAIResponses } from './dialects/openai/dialect.js';
import type { Handler, Responder } from './respond.js';

/** One path of the HTTP API: a handler per method, and how the app treats requests to it. */
export interface Endpoint {
  /** The exact path; ending in `/*`, every path that starts with what comes before the `*`. */
  path: string;
  methods: Readonly<Record<string, Handler>>;
  /**
   * A load balancer's or a scraper's path: still answered while the gateway drains (everything else is refused),
   * and its request line is logged at debug when it was answered 200.
   */
  probe?: true;
  /** The dialect the route speaks: its errors (even a 404 or a 405 before any handler ran) come in its shape. */
  dialect?: (requestId: string) => IngressDialect;
}

/** The HTTP API's routes: which endpoint a path is, and its handler for a method. */
export interface Router {
  /** The endpoint of a path; undefined when there is none (`dispatch` answers it with a 404). */
  find(path: string): Endpoint | undefined;
  /** The request's handler; a 404 or 405 GatewayError when there is none. */
  dispatch(ex: Exchange, endpoint: Endpoint | undefined): Handler;
  /** The `Allow` header for a path (after a 405). */
  allow(endpoint: Endpoint | undefined): string;
}

export interface EndpointDeps {
  routes: ReadonlyMap<string, Route>;
  metrics: Metrics;
  respond: Responder;
  isDraining: () => boolean;
  runModel: RunModel;
  /** `POST /v1/messages/count_tokens` (count-tokens.ts). */
  countTokens: Handler;
  /** `POST /admin/reload` (serve only): reloads the config and says what changed; see reload.ts. */
  reload?: () => { status: number; body: string };
  /** `GET /admin/deployments` (serve only): each deployment's breaker, errors, latency, quota and probe; see admin.ts. */
  adminDeployments?: () => { status: number; body: string };
}

/** Every route of the API, in one table. */
export function endpoints({ routes, metrics, respond, isDraining, runModel, countTokens, reload, adminDeployments }: EndpointDeps): Endpoint[] {
  const modelNames = [...routes.keys()];
  const { json } = respond;
  const model = (dialect: IngressDialect): Handler => (ex, ctx) => runModel(ex, ctx, dialect);
  const table: Endpoint[] = [
    { path: '/v1/chat/completions', methods: { POST: model(openAIChat) } },
    { path: '/v1/embeddings', methods: { POST: model(openAIEmbeddings) } },
    { path: '/v1/responses', methods: { POST: model(openAIResponses) } },
    {
      path: '/v1/messages',
      methods: { POST: (ex, ctx) => runModel(ex, ctx, ctx.dialect ?? anthropicMessages(ctx.requestId)) },
      dialect: anthropicMessages,
    },
    { path: '/v1/messages/count_tokens', methods: { POST: countTokens }, dialect: anthropicMessages },
    { path: '/v1/models', methods: { GET: async (ex, ctx) => json(ex, ctx, 200, modelsList(modelNames)) } },
    { path: '/v1/models/*', methods: { GET: modelHandler(routes) } },
    // Alive while draining too (a 503 here would tell an orchestrator to kill a process finishing its work).
    {
      path: '/health',
      methods: { GET: async (ex, ctx) => json(ex, ctx, 200, isDraining() ? '{"status":"ok","draining":true}' : '{"status":"ok"}') },
      probe: true,
    },
    {
      path: '/metrics',
      methods: {
        GET: async (ex, ctx) => {
          const body = await metrics.render();
          ctx.status = 200;
          ex.start(200, { 'content-type': metrics.contentType, 'content-length': byteLength(body), 'x-request-id': ctx.requestId });
          ex.end(body);
        },
      },
      probe: true,
    },
    {
      path: '/ready',
      methods: { GET: async (ex, ctx) => (isDraining() ? json(ex, ctx, 503, '{"status":"draining"}') : json(ex, ctx, 200, '{"status":"ready"}')) },
      probe: true,
    },
  ];
  if (reload) {
    const admin: Handler = async (ex, ctx) => {
      const answer = reload();
      json(ex, ctx, answer.status, answer.body);
    };
    table.push({ path: '/admin/reload', methods: { POST: admin } });
  }
  if (adminDeployments) {
    const inspect: Handler = async (ex, ctx) => {
      const answer = adminDeployments();
      json(ex, ctx, answer.status, answer.body);
    };
    table.push({ path: '/admin/deployments', methods: { GET: inspect } });
  }
  return table;
}

/** A router over a table of endpoints (exact paths by lookup, prefixes in the table's order). */
export function router(table: readonly Endpoint[]): Router {
  const exact = new Map<string, Endpoint>();
  const prefixes: { prefix: string; endpoint: Endpoint }[] = [];
  for (const e of table) {
    if (e.path.endsWith('/*')) prefixes.push({ prefix: e.path.slice(0, -1), endpoint: e });
    else exact.set(e.path, e);
  }
  const allow = (endpoint: Endpoint | undefined): string => Object.keys(endpoint?.methods ?? { GET: 0 }).join(', ');
  return {
    find(path) {
      return exact.get(path) ?? prefixes.find((p) => path.startsWith(p.prefix))?.endpoint;
    },
    dispatch(ex, endpoint) {
      if (!endpoint) throw new GatewayError('not_found', `Unknown path ${ex.path}`, { code: 'unknown_url' });
      const handler = Object.hasOwn(endpoint.methods, ex.method) ? endpoint.methods[ex.method] : undefined;
      if (handler) return handler;
      throw new GatewayError('method_not_allowed', `${ex.method} is not allowed on ${ex.path}; use ${allow(endpoint)}`, {
        code: 'method_not_allowed',
      });
    },
    allow,
  };
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
