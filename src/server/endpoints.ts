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

/** The HTTP API's routes: which handler answers a path and method. */
export interface Router {
  /** The request's handler; a 404 or 405 GatewayError when there is none. */
  dispatch(ex: Exchange): Handler;
  /** The `Allow` header for a path (after a 405). */
  allow(path: string): string;
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
}

type Table = Record<string, Record<string, Handler>>;

/** A load balancer's and a scraper's paths: answered while the gateway drains, logged at debug when all is well. */
export const PROBE_PATHS: ReadonlySet<string> = new Set(['/health', '/ready', '/metrics']);

export function router({ routes, metrics, respond, isDraining, runModel, countTokens, reload }: EndpointDeps): Router {
  const modelNames = [...routes.keys()];
  const { json } = respond;
  const model = (dialect: IngressDialect): Handler => (ex, ctx) => runModel(ex, ctx, dialect);
  const get = (handler: Handler) => ({ GET: handler });
  const post = (handler: Handler) => ({ POST: handler });
  const table: Table = {
    '/v1/chat/completions': post(model(openAIChat)),
    '/v1/embeddings': post(model(openAIEmbeddings)),
    '/v1/responses': post(model(openAIResponses)),
    '/v1/messages': post((ex, ctx) => runModel(ex, ctx, ctx.dialect ?? anthropicMessages(ctx.requestId))),
    '/v1/messages/count_tokens': post(countTokens),
    '/v1/models': get(async (ex, ctx) => json(ex, ctx, 200, modelsList(modelNames))),
    // Alive while draining too (a 503 here would tell an orchestrator to kill a process finishing its work).
    '/health': get(async (ex, ctx) => json(ex, ctx, 200, isDraining() ? '{"status":"ok","draining":true}' : '{"status":"ok"}')),
    '/metrics': get(async (ex, ctx) => {
      const body = await metrics.render();
      ctx.status = 200;
      ex.start(200, { 'content-type': metrics.contentType, 'content-length': byteLength(body), 'x-request-id': ctx.requestId });
      ex.end(body);
    }),
    '/ready': get(async (ex, ctx) =>
      isDraining() ? json(ex, ctx, 503, '{"status":"draining"}') : json(ex, ctx, 200, '{"status":"ready"}'),
    ),
  };
  if (reload) {
    table['/admin/reload'] = post(async (ex, ctx) => {
      const answer = reload();
      json(ex, ctx, answer.status, answer.body);
    });
  }

  return {
    dispatch(ex) {
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
    },
    allow(path) {
      return Object.keys(table[path] ?? { GET: 0 }).join(', ');
    },
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
