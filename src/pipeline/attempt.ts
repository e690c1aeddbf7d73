import type { CancelSignal } from '../cancel.js';
import type { Timeouts } from '../config/types.js';
import { GatewayError, toGatewayError } from '../errors.js';
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
  /** Streams: called with the head at commit, the moment the first token is read (see GatewayRequest.onFirstToken). */
  onCommit?: (head: readonly StreamEvent[], deployment: string) => void;
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
  /** Events read while waiting for the first token; replayed first. */
  head: StreamEvent[];
  rest: AsyncIterator<StreamEvent>;
  response: UpstreamResponse;
}

async function send(input: AttemptInput, d: Deployment, record: AttemptRecord, body = input.body) {
  const adapter = adapterFor(d.provider.type);
  const request = adapter.buildRequest(input.op, body, d, input.raw?.of === body ? input.raw.text : undefined);
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
  } catch (err) {
    res.discard();
    throw err;
  }
  input.onCommit?.(head, d.id);
  return { head, rest, response: res };
}

/**
 * Replays the head, then the rest. A failure after commit becomes an error event, never a clean end.
 * `onEnd` runs exactly once, with the error if the stream failed: as the last event is handed out (a terminal
 * event, or the consumer stopping early through `return`).
 */
export function relay(stream: CommittedStream, d: Deployment, onEnd: (error: GatewayError | undefined) => void): AsyncIterableIterator<StreamEvent> {
  return new Relay(stream, d, onEnd);
}

const END: IteratorResult<StreamEvent> = { done: true, value: undefined };

/** `relay` as a hand-written iterator: an async generator's yield costs ~470 bytes per event (see decodeStream). */
class Relay implements AsyncIterableIterator<StreamEvent> {
  private given = 0;
  private failure: GatewayError | undefined;
  private over = false;

  constructor(
    private readonly stream: CommittedStream,
    private readonly d: Deployment,
    private readonly onEnd: (error: GatewayError | undefined) => void,
  ) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<StreamEvent> {
    return this;
  }

  next(): Promise<IteratorResult<StreamEvent>> {
    if (this.over) return Promise.resolve(END);
    const head = this.stream.head;
    if (this.given < head.length) {
      const e = head[this.given++] as StreamEvent;
      if (e.type === 'done') this.end(true);
      return Promise.resolve({ value: e, done: false });
    }
    return this.stream.rest.next().then(this.onNext, this.onError);
  }

  /** The consumer stopped early (the client left, or the answer was complete): nothing more is read. */
  return(): Promise<IteratorResult<StreamEvent>> {
    if (!this.over) this.end(false);
    return Promise.resolve(END);
  }

  private readonly onNext = (next: IteratorResult<StreamEvent>): IteratorResult<StreamEvent> => {
    if (next.done) return this.fail(streamEndedEarly(this.d, 'without [DONE]'));
    const e = next.value;
    if (e.type === 'error') this.failure = e.error;
    // Anything but a chunk ends the relay: done (complete), an error event.
    if (e.type !== 'chunk') this.end(e.type === 'done');
    return { value: e, done: false };
  };

  private readonly onError = (err: unknown): IteratorResult<StreamEvent> => {
    const failure = toGatewayError(err);
    failure.deployment ??= this.d.id;
    return this.fail(failure);
  };

  private fail(failure: GatewayError): IteratorResult<StreamEvent> {
    this.failure = failure;
    this.end(false);
    return { value: { type: 'error', error: failure }, done: false };
  }

  private end(complete: boolean): void {
    this.over = true;
    // The client's answer is complete either way: the end of the upstream body is read in the background.
    if (complete) void drain(this.stream).then(() => this.onEnd(this.failure));
    else {
      this.stream.response.discard();
      this.onEnd(this.failure);
    }
  }
}

/**
 * After `[DONE]` only the end of the HTTP body is left (usually already in the buffer). Reading it lets the
 * connection go back to the pool; destroying the body instead would close it, and the next request would pay
 * for a new connection (measured: ~2.5 ms more to the first token). Bounded: a body that goes on is cut.
 */
async function drain(stream: CommittedStream): Promise<void> {
  const timer = setTimeout(() => stream.response.discard(), DRAIN_MS);
  try {
    for (let n = 0; n < DRAIN_EVENTS; n++) if ((await stream.rest.next()).done) break;
  } catch {
    // Whatever goes wrong after [DONE] does not concern the answer.
  } finally {
    clearTimeout(timer);
    stream.response.discard();
  }
}

const DRAIN_MS = 1000;
const DRAIN_EVENTS = 16;

function streamEndedEarly(d: Deployment, when: string): GatewayError {
  return new GatewayError('connection', `Upstream ${d.id} ended the stream ${when}`, {
    code: 'upstream_stream_truncated',
    deployment: d.id,
  });
}
