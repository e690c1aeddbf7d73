import type { CancelSignal } from '../cancel.js';
import type { Timeouts } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { AttemptEnd, AttemptTrace } from '../observability/tracing.js';
import { adapterFor } from '../providers/index.js';
import { explainNotFound } from '../providers/shared/not-found.js';
import { secretsOf } from '../secrets.js';
import type { Deployment, Operation, RawBody, StreamEvent, Upstream, UpstreamResponse } from '../types.js';
import { scrubbingDecoder } from './scrubbing-decoder.js';
import { carriesToken, decodeStream } from './sse.js';

/** One upstream attempt: what it needs, and what it reports for logs and health. */
export interface AttemptInput {
  /** Where the request goes: transport/'s Transport, or a test's scripted upstream. */
  upstream: Upstream;
  op: Operation;
  body: Record<string, unknown>;
  timeouts: Timeouts;
  signal: CancelSignal;
  /** The client's JSON text of `body`, when `body` is still the client's own object. */
  raw?: RawBody;
  /** Streams: `streaming.max_event_bytes`, the most one upstream event may hold (default 4 MiB). */
  maxEventBytes?: number;
  /** Streams: called when the upstream accepts the stream (its 2xx), before its first token. */
  onAccepted?: (deployment: string) => void;
  /**
   * Streams: called in the turn the first token is read, with what was read up to it (the token last): the answer
   * commits here, and its head goes to the client at once. False when the other attempt of a hedged pair committed
   * first: this one has lost, and ends.
   */
  onCommit?: (d: Deployment, head: readonly StreamEvent[]) => boolean;
  /** This attempt's span (tracing on): its `traceparent` goes upstream when `tracing.forward_traceparent` is set. */
  trace?: AttemptTrace | undefined;
}

export interface AttemptRecord {
  deployment: string;
  status?: number;
  kind?: string;
  upstreamRequestId?: string;
  /** Time of the attempt itself, to its answer (JSON) or first token (stream). */
  ms: number;
  /** Backoff or Retry-After wait spent before this attempt. */
  waitedMs?: number;
  /** A hedge: started because the attempt before it had no first token in time. */
  hedge?: true;
  /** Continues a stream that failed mid-answer (prefill). */
  resume?: true;
  /** A hedge's loser: what it cost, estimated (its prompt was sent; it produced no token before it was aborted). */
  usage?: { prompt_tokens: number; completion_tokens: number };
}

/** Accounting that finishes after its attempt (a hedge loser's prompt, counted in slices), per record. */
const settling = new WeakMap<AttemptRecord, Promise<void>>();

/** Records `work` as the rest of `record`'s accounting (it fills `record` in when done; its failure is ignored). */
export function settleLater(record: AttemptRecord, work: Promise<void>): void {
  const done = work.catch(() => undefined).finally(() => settling.delete(record));
  settling.set(record, done);
}

/** Resolves once every record's accounting is complete; undefined when none is pending (nothing to await). */
export function attemptsSettled(attempts: readonly AttemptRecord[]): Promise<void> | undefined {
  let pending: Promise<void>[] | undefined;
  for (const record of attempts) {
    const p = settling.get(record);
    if (!p) continue;
    pending ??= [];
    pending.push(p);
  }
  return pending && Promise.all(pending).then(() => undefined);
}

export interface CommittedStream {
  /** Events read while waiting for the first token (it is the last; or an early `done`), written at commit. */
  head: StreamEvent[];
  rest: AsyncIterator<StreamEvent>;
  response: UpstreamResponse;
  /** Ends the attempt's span (tracing on) when the stream ends: the Feed calls it. */
  endTrace: ((how: AttemptEnd) => void) | undefined;
}

async function send(input: AttemptInput, d: Deployment, record: AttemptRecord, body = input.body) {
  const adapter = adapterFor(d.provider.type);
  const request = adapter.buildRequest(input.op, body, d, input.raw?.of === body ? input.raw.text : undefined);
  const traceparent = input.trace?.traceparent;
  if (traceparent) request.headers = { ...request.headers, traceparent };
  const res = await input.upstream.send({
    request,
    provider: d.provider,
    timeouts: input.timeouts,
    signal: input.signal,
    label: `Upstream ${d.id}`,
  });
  record.status = res.status;
  record.upstreamRequestId = secretsOf(d.provider).requestId(adapter.upstreamRequestId(res.headers));
  if (res.status >= 200 && res.status < 300) return { adapter, res };
  let text = '';
  try {
    text = await res.text();
  } catch {
    // The error body is only a hint; the status already classifies the failure.
  }
  // A 404 for the path (not the model) gets the URL that was called and what to check (providers/shared/not-found.ts).
  throw explainNotFound(adapter.classifyError(res.status, res.headers, text, d), request, res.status, res.headers, text, d);
}

export async function attemptJson(input: AttemptInput, d: Deployment, record: AttemptRecord) {
  const { adapter, res } = await send(input, d, record);
  // An upstream that echoes its key in an answer: the exact key is scrubbed (cheap when absent, as it always is).
  const body = secretsOf(d.provider).scrubExact(adapter.parseResponse(input.op, await res.text(), d, input.body));
  return { body, headers: res.headers };
}

/** Resolves once the upstream's first token has arrived (commit on first token); fails before that otherwise. */
export async function attemptStream(input: AttemptInput, d: Deployment, record: AttemptRecord): Promise<CommittedStream> {
  // A chat stream's decoder reports usage whatever the client asked (each adapter asks its upstream as its wire needs).
  const { adapter, res } = await send(input, d, record);
  const decoder = scrubbingDecoder(adapter.createStreamDecoder(d), secretsOf(d.provider));
  const rest = decodeStream(res.body, adapter, decoder, { maxEventBytes: input.maxEventBytes, deployment: d.id });
  const head: StreamEvent[] = [];
  try {
    input.onAccepted?.(d.id);
    for (;;) {
      const next = await rest.next();
      if (next.done) throw streamEndedEarly(d, 'before its first token');
      const e = next.value;
      if (e.type === 'error') throw e.error;
      head.push(e);
      if (e.type === 'done' || (e.type === 'chunk' && carriesToken(e.data, e.event))) break;
    }
    if (input.onCommit && !input.onCommit(d, head)) throw new GatewayError('connection', `Upstream ${d.id} lost the race to the first token`);
  } catch (err) {
    res.discard();
    throw err;
  }
  const trace = input.trace;
  return { head, rest, response: res, endTrace: trace && ((how: AttemptEnd) => trace.end(record, how)) };
}

export function streamEndedEarly(d: Deployment, when: string): GatewayError {
  return new GatewayError('connection', `Upstream ${d.id} ended the stream ${when}`, {
    code: 'upstream_stream_truncated',
    deployment: d.id,
  });
}
