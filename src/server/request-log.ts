import { costUSD, type TokenUsage, tokenUsageOf } from '../accounting/cost.js';
import type { Price } from '../config/types.js';
import type { requestLineWriter } from '../observability/logger.js';
import type { AttemptFacts, RequestFacts } from '../observability/metrics.js';
import { resolveModelInfo } from '../accounting/catalog.js';
import type { AttemptRecord } from '../pipeline/index.js';
import type { Route } from '../routing/routes.js';
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

/** Each configured deployment's price (the config's, else the catalog's), looked up once per engine. */
export function deploymentPrices(routes: ReadonlyMap<string, Route>): Map<string, Price | undefined> {
  const prices = new Map<string, Price | undefined>();
  for (const route of routes.values()) {
    for (const t of route.targets) {
      if (!prices.has(t.deployment.id)) prices.set(t.deployment.id, resolveModelInfo(t.deployment.provider.type, t.target).price);
    }
  }
  return prices;
}

/** What a finished request was: what the metrics count (RequestFacts) and what its line adds. */
export interface RequestSummary extends RequestFacts {
  status: number | undefined;
  tokenUsage?: TokenUsage & { total_tokens: number };
  records: readonly AttemptRecord[];
}

/**
 * One finished request, summarised once from what it recorded (its context, its attempts, its answer's meta): the
 * metrics count it, and its log line is written from it. `route` is the route-table path (or `other`); `started`
 * and `ended` the request's `performance.now()`.
 */
export function summarize(
  ex: Exchange,
  ctx: RequestContext,
  route: string,
  started: number,
  ended: number,
  prices: ReadonlyMap<string, Price | undefined>,
): RequestSummary {
  const ms = ended - started;
  const meta = ctx.result;
  const records = meta?.attempts ?? ctx.attempts ?? [];
  const attempts: AttemptFacts[] = new Array(records.length);
  let upstreamMs = 0;
  let extraCost: Map<string, number> | undefined;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as AttemptRecord;
    const a: AttemptFacts = { deployment: r.deployment, outcome: r.kind ?? 'ok', ms: r.ms };
    if (r.hedge) a.hedge = true;
    // Hedges run beside the attempt before them, and resumes after the first token: neither adds to the wait for it.
    else if (!r.resume) upstreamMs += r.ms + (r.waitedMs ?? 0);
    if (r.usage) {
      a.input = r.usage.prompt_tokens;
      const price = prices.get(r.deployment);
      if (price) {
        extraCost ??= new Map();
        extraCost.set(r.deployment, (extraCost.get(r.deployment) ?? 0) + costUSD(r.usage, price));
      }
    }
    attempts[i] = a;
  }
  const status = loggedStatus(ex, ctx);
  const s: RequestSummary = { route, model: ctx.model, status, ms, attempts, records };
  if (extraCost) s.extraCost = extraCost;
  if (meta?.firstTokenAt !== undefined) s.ttftMs = Math.max(0, meta.firstTokenAt - started);
  // The gateway's own time: to the first token for a stream (after it, the upstream and the client set the pace).
  s.overheadMs = Math.max(0, (s.ttftMs ?? ms) - upstreamMs);
  const deployment = meta?.deployment ?? ctx.error?.deployment;
  if (deployment !== undefined) s.deployment = deployment;
  const usage = tokenUsageOf(meta?.usage);
  if (usage && meta) {
    s.tokenUsage = usage;
    const cached = usage.cached_tokens ?? 0;
    s.usage = { input: usage.prompt_tokens, output: usage.completion_tokens, cached };
    const price = prices.get(meta.deployment);
    if (price) s.costUsd = costUSD(usage, price);
  }
  return s;
}

/** The one line each request is logged with, once it is over. */
export function logRequest(write: ReturnType<typeof requestLineWriter>, ex: Exchange, ctx: RequestContext, s: RequestSummary): void {
  const u = s.tokenUsage;
  write(
    {
      requestId: ctx.requestId,
      method: ex.method,
      path: ex.path,
      route: s.route,
      model: ctx.model,
      status: s.status,
      ms: round(s.ms),
      ttftMs: s.ttftMs === undefined ? undefined : round(s.ttftMs),
      deployment: s.deployment,
      fallback: ctx.result?.fallback,
      attempts: s.records.length === 0 ? undefined : s.records.map((r, i) => ({ ...r, outcome: s.attempts[i]?.outcome })),
      resumes: ctx.result?.resumes,
      transformed: ctx.result?.applied,
      usage: u && {
        input_tokens: u.prompt_tokens,
        output_tokens: u.completion_tokens,
        cached_input_tokens: u.cached_tokens,
        total_tokens: u.total_tokens,
      },
      costUsd: s.costUsd,
      error: ctx.error ? { kind: ctx.error.kind, code: ctx.error.code, message: ctx.error.message } : undefined,
    },
    'request',
  );
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
