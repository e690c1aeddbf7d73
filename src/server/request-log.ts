import type { requestLineWriter } from '../observability/logger.js';
import type { Exchange } from './exchange.js';
import type { RequestContext } from './respond.js';

/** The one line each request is logged with, once it is over. */
export function logRequest(write: ReturnType<typeof requestLineWriter>, ex: Exchange, ctx: RequestContext, ms: number): void {
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
