import type { Cancel } from '../cancel.js';
import type { GatewayError } from '../errors.js';
import type { RequestTrace } from '../observability/tracing.js';
import type { AttemptRecord, ResultMeta } from '../pipeline/index.js';
import type { Exchange } from './adapters/exchange.js';
import { byteLength } from './headers.js';
import type { IngressDialect } from './ingress.js';
import { openAIChat } from './dialects/openai/dialect.js';
import type { StreamResponse } from './stream-response.js';

export type Handler = (ex: Exchange, ctx: RequestContext) => Promise<void>;

/** What the app knows about one request as it goes: the request line is written from it at the end. */
export interface RequestContext {
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
  /** A stream whose status and headers are out, until its last event: what a shutdown ends. */
  stream?: StreamResponse;
  /** Ended by the gateway's shutdown: nothing more is written, and no other outcome is recorded. */
  stopped?: boolean;
  /** The request's span (tracing on): the pipeline's attempts add theirs under it. */
  trace?: RequestTrace | undefined;
}

/** Whole (non-stream) answers. While the gateway drains, each asks the client not to reuse its connection. */
export interface Responder {
  json(ex: Exchange, ctx: RequestContext, status: number, body: string, extra?: Record<string, string>): void;
  /** An error in the request's dialect (OpenAI's until the route is known). */
  fail(ex: Exchange, ctx: RequestContext, err: GatewayError, extra?: Record<string, string>): void;
}

export function responder(isDraining: () => boolean): Responder {
  return {
    json(ex, ctx, status, body, extra = {}) {
      ctx.status = status;
      // A length instead of chunked framing: the whole body is known.
      ex.start(
        status,
        { 'content-type': 'application/json', 'content-length': byteLength(body), 'x-request-id': ctx.requestId, ...extra },
        isDraining(),
      );
      ex.end(body);
    },
    fail(ex, ctx, err, extra = {}) {
      ctx.error = err;
      ctx.status = err.status;
      // A body left unread (an error before it was read, or a read that failed) would be read and discarded by
      // node to keep the connection: without a bound when it is chunked. Closing the connection ends it instead.
      const unreadBody = !ctx.bodyRead && (ex.headers['transfer-encoding'] !== undefined || (ex.declaredLength ?? 0) > 0);
      const close = isDraining() || unreadBody || err.kind === 'payload_too_large';
      const dialect = ctx.dialect ?? openAIChat;
      const body = dialect.errorBody(err);
      ex.start(err.status, { ...dialect.errorHeaders(err), 'content-length': byteLength(body), 'x-request-id': ctx.requestId, ...extra }, close);
      ex.end(body);
    },
  };
}
