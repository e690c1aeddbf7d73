import type { requestLineWriter } from '../observability/logger.js';
import type { Exchange } from './adapters/exchange.js';
import type { RequestContext } from './respond.js';

/** The status a request is logged with. */
function loggedStatus(ex: Exchange, ctx: RequestContext): number | undefined {
  // The client went away before its response was complete (mid-upload, while waiting, mid-stream): 499, as nginx
  // logs it, rather than whatever error the gateway was about to answer with.
  return ex.signal.aborted && !ctx.stopped ? 499 : ctx.status;
}

/**
 * A probe (an endpoint marked `probe`) answered 200 is logged at debug: a load balancer probing every second would
 * otherwise write most of the log at info. Any other answer to it (a 503 /ready, a 405) is worth an info line.
 */
export function requestLineLevel(probe: boolean, ex: Exchange, ctx: RequestContext): 'info' | 'debug' {
  return probe && loggedStatus(ex, ctx) === 200 ? 'debug' : 'info';
}

/** The one line each request is logged with, once it is over. */
export function logRequest(write: ReturnType<typeof requestLineWriter>, ex: Exchange, ctx: RequestContext, ms: number): void {
  const status = loggedStatus(ex, ctx);
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
