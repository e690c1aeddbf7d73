import type { Config, ModelConfig } from '../config/types.js';
import { GatewayError, toGatewayError } from '../errors.js';
import { adapterFor } from '../providers/index.js';
import type { Deployment, Operation, StreamEvent } from '../providers/types.js';
import { planDeployments, type Route } from '../routing/routes.js';
import type { Transport, UpstreamResponse } from '../transport/index.js';
import { carriesToken, decodeSSE } from './sse.js';

/** One client request as the engine sees it: already validated, in canonical (OpenAI) shape. */
export interface GatewayRequest {
  op: Operation;
  route: Route;
  body: Record<string, unknown>;
  stream: boolean;
  requestId: string;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

/** What happened upstream, for response headers and the request log. */
export interface AttemptRecord {
  deployment: string;
  status?: number;
  kind?: string;
  upstreamRequestId?: string;
  ms: number;
}

export interface ResultMeta {
  deployment: string;
  attempts: AttemptRecord[];
  /** The fallback model that answered, when not the requested one. */
  fallback?: string;
}

export type GatewayResult =
  | { type: 'json'; body: string; meta: ResultMeta }
  | { type: 'stream'; events: AsyncIterable<StreamEvent>; meta: ResultMeta };

/** A GatewayError plus what was tried, so the server can still report attempts. */
export class PipelineFailure {
  constructor(
    readonly error: GatewayError,
    readonly attempts: AttemptRecord[],
  ) {}
}

/**
 * THE decision loop. Today: one attempt to the first planned deployment, with the request's deadline,
 * commit-on-first-token for streams, and an explicit error event when a committed stream fails.
 * Retries, balancing and failover are added here and in routing/, nowhere else.
 */
export class Pipeline {
  constructor(
    private readonly config: Config,
    private readonly transport: Transport,
  ) {}

  async run(req: GatewayRequest): Promise<GatewayResult> {
    const model = req.route.model;
    const deadline = new Deadline(model.timeouts.total_ms, req.signal);
    const attempts: AttemptRecord[] = [];
    const [deployment] = planDeployments(req.route);
    if (!deployment) {
      deadline.release();
      throw new PipelineFailure(new GatewayError('unavailable', `Model "${model.name}" has no deployment`), attempts);
    }
    const started = performance.now();
    const record: AttemptRecord = { deployment: deployment.id, ms: 0 };
    attempts.push(record);
    try {
      const result = req.stream
        ? await this.openStream(req, model, deployment, deadline, record)
        : await this.fetchJson(req, model, deployment, deadline.signal, record);
      record.ms = Math.round(performance.now() - started);
      const meta: ResultMeta = { deployment: deployment.id, attempts };
      if (typeof result === 'string') {
        deadline.release();
        return { type: 'json', body: result, meta };
      }
      return { type: 'stream', events: result, meta };
    } catch (err) {
      deadline.release();
      const error = toGatewayError(err);
      error.deployment ??= deployment.id;
      record.ms = Math.round(performance.now() - started);
      record.kind = error.kind;
      record.status ??= error.upstreamStatus;
      throw new PipelineFailure(error, attempts);
    }
  }

  private async send(req: GatewayRequest, model: ModelConfig, d: Deployment, signal: AbortSignal, record: AttemptRecord) {
    const adapter = adapterFor(d.provider.type);
    const request = adapter.buildRequest(req.op, req.body, d);
    const res = await this.transport.send({ request, provider: d.provider, timeouts: model.timeouts, signal, label: `Upstream ${d.id}` });
    record.status = res.status;
    record.upstreamRequestId = firstHeader(res, 'x-request-id');
    if (res.status >= 200 && res.status < 300) return { adapter, res };
    let text = '';
    try {
      text = await res.text();
    } catch {
      // The error body is only a hint; the status already classifies the failure.
    }
    throw adapter.classifyError(res.status, res.headers, text, d);
  }

  private async fetchJson(req: GatewayRequest, model: ModelConfig, d: Deployment, signal: AbortSignal, record: AttemptRecord) {
    const { adapter, res } = await this.send(req, model, d, signal, record);
    return adapter.parseResponse(req.op, await res.text(), d);
  }

  /** Resolves once the upstream's first token has arrived (commit on first token). */
  private async openStream(
    req: GatewayRequest,
    model: ModelConfig,
    d: Deployment,
    deadline: Deadline,
    record: AttemptRecord,
  ): Promise<AsyncIterable<StreamEvent>> {
    const { adapter, res } = await this.send(req, model, d, deadline.signal, record);
    const events = decodeSSE(res.body, adapter.createStreamDecoder(d));
    const head: StreamEvent[] = [];
    try {
      for (;;) {
        const next = await events.next();
        if (next.done) throw streamEndedEarly(d, 'before its first token');
        const e = next.value;
        if (e.type === 'error') throw e.error;
        head.push(e);
        if (e.type === 'done' || carriesToken(e.data)) break;
      }
    } catch (err) {
      res.discard();
      throw err;
    }
    return relay(head, events, d, res, deadline);
  }
}

/** Replays the buffered head, then the rest; a failure after commit becomes an error event, never a clean end. */
async function* relay(
  head: StreamEvent[],
  events: AsyncGenerator<StreamEvent>,
  d: Deployment,
  res: UpstreamResponse,
  deadline: Deadline,
): AsyncGenerator<StreamEvent> {
  try {
    for (const e of head) {
      yield e;
      if (e.type === 'done') return;
    }
    for (;;) {
      let next: IteratorResult<StreamEvent>;
      try {
        next = await events.next();
      } catch (err) {
        const error = toGatewayError(err);
        error.deployment ??= d.id;
        yield { type: 'error', error };
        return;
      }
      if (next.done) {
        yield { type: 'error', error: streamEndedEarly(d, 'without [DONE]') };
        return;
      }
      yield next.value;
      if (next.value.type !== 'chunk') return;
    }
  } finally {
    res.discard();
    deadline.release();
  }
}

function streamEndedEarly(d: Deployment, when: string): GatewayError {
  return new GatewayError('connection', `Upstream ${d.id} ended the stream ${when}`, {
    code: 'upstream_stream_truncated',
    deployment: d.id,
  });
}

function firstHeader(res: UpstreamResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The request's time budget: aborts its signal at total_ms, or when the client goes away. */
class Deadline {
  private readonly ac = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onClientAbort = (): void =>
    this.ac.abort(new GatewayError('connection', 'The client closed the request', { code: 'client_closed', retryable: false }));

  constructor(
    totalMs: number,
    private readonly client: AbortSignal,
  ) {
    this.timer = setTimeout(
      () => this.ac.abort(new GatewayError('timeout', `The request took longer than ${totalMs} ms (total timeout)`, { code: 'total_timeout', retryable: false })),
      totalMs,
    );
    if (client.aborted) this.onClientAbort();
    else client.addEventListener('abort', this.onClientAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  release(): void {
    clearTimeout(this.timer);
    this.client.removeEventListener('abort', this.onClientAbort);
  }
}
