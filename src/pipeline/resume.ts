import type { StreamingConfig } from '../config/types.js';
import { GatewayError, toGatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { StreamEvent } from '../types.js';
import { Transcript, type Usage } from './transcript.js';

/** One upstream stream of an answer: its events (ending in done or an error event) and the request it ran. */
export interface Segment {
  events: AsyncIterable<StreamEvent>;
  body: Record<string, unknown>;
  deployment: string;
}

export interface ResumeRecord {
  /** The deployment whose stream failed, and why. */
  from: string;
  reason: string;
  /** Where the answer continued; absent when it could not be. */
  to?: string;
  /** Why it could not be continued. */
  notResumed?: string;
}

export interface SurviveOptions {
  transcript: Transcript;
  /** The client's canonical request. */
  original: Record<string, unknown>;
  /** `streaming.resume`. */
  resume: boolean;
  maxResumes: number;
  /** Opens the continuation on a prefill-capable deployment; rejects when none can take it. */
  open(body: Record<string, unknown>): Promise<Segment>;
  /** Called once per failed segment, resumed or not. */
  onResume(record: ResumeRecord): void;
  /** Called once when the stream ends, with the answer's usage as far as known. */
  onUsage(usage: Usage | undefined): void;
}

/**
 * A chat stream that survives its upstream: when a segment fails after the client has been sent part of the
 * answer, the answer continues on another segment (prefill) and is stitched in by the transcript, so the
 * client sees one answer: one id, one role, one finish_reason, the text exactly as if uncut, usage summed.
 * When it cannot continue (resume off, no capable deployment, a tool call in progress, …) the client gets an
 * explicit error event naming why, never a clean-looking end. A stream cut after its finish_reason is
 * complete and ends cleanly.
 */
export function survive(first: Segment, o: SurviveOptions): AsyncIterableIterator<StreamEvent> {
  return new Survivor(first, o);
}

const END: IteratorResult<StreamEvent> = { done: true, value: undefined };

/**
 * `survive` as a hand-written iterator (an async generator's yield costs ~470 bytes per event, and every chunk of
 * every stream passes here). A chunk is handed on in the same step it is read; a segment's end, a failure and a
 * resume take the slower paths below. `onUsage` runs once, when the consumer has the last event and asks for the
 * next, or stops early (`return`).
 */
class Survivor implements AsyncIterableIterator<StreamEvent> {
  private segment: Segment;
  private events: AsyncIterator<StreamEvent>;
  private resumes = 0;
  private readonly resumed: string[] = [];
  /** Events decided on and not yet handed out (the end of the answer). */
  private readonly queued: StreamEvent[] = [];
  /** Nothing follows `queued`. */
  private over = false;
  private closed = false;

  constructor(
    first: Segment,
    private readonly o: SurviveOptions,
  ) {
    this.segment = first;
    this.events = first.events[Symbol.asyncIterator]();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<StreamEvent> {
    return this;
  }

  next(): Promise<IteratorResult<StreamEvent>> {
    const e = this.queued.shift();
    if (e) return Promise.resolve({ value: e, done: false });
    if (this.over) {
      this.close();
      return Promise.resolve(END);
    }
    return this.events.next().then(this.onEvent, this.onThrow);
  }

  return(): Promise<IteratorResult<StreamEvent>> {
    if (!this.over) {
      this.over = true;
      this.queued.length = 0;
      this.closeSegment();
    }
    this.close();
    return Promise.resolve(END);
  }

  private readonly onEvent = (r: IteratorResult<StreamEvent>): IteratorResult<StreamEvent> | Promise<IteratorResult<StreamEvent>> => {
    if (r.done) return this.segmentFailed(undefined);
    const e = r.value;
    if (e.type === 'chunk') {
      const out = this.o.transcript.accept(e.data);
      if (out === e.data) return { value: e, done: false };
      if (out !== '') return { value: { type: 'chunk', data: out }, done: false };
      return this.events.next().then(this.onEvent, this.onThrow);
    }
    if (e.type === 'done') {
      this.closeSegment();
      return this.finish().catch(this.onThrow);
    }
    if (e.type === 'error') {
      // Ends the segment's relay (its health is recorded) before anything is chosen to continue.
      this.closeSegment();
      return this.segmentFailed(e.error);
    }
    return { value: e, done: false };
  };

  private readonly onThrow = (err: unknown): never => {
    this.over = true;
    this.close();
    throw err;
  };

  private segmentFailed(error: GatewayError | undefined): IteratorResult<StreamEvent> | Promise<IteratorResult<StreamEvent>> {
    const { o, segment } = this;
    const t = o.transcript;
    const failure =
      error ?? new GatewayError('connection', `Upstream ${segment.deployment} ended the stream early`, { code: 'upstream_stream_truncated' });
    // The finish_reason arrived: the answer is whole, only the stream's tail was lost.
    if (t.finished) return this.finish().catch(this.onThrow);
    const reason = failure.code ?? failure.kind;
    const why = !o.resume
      ? 'streaming.resume is off'
      : REFUSALS.has(failure.kind)
        ? `the upstream refused to go on (${failure.kind}); another would be asked the same`
        : this.resumes >= o.maxResumes
          ? `it was already resumed ${this.resumes} time(s) (streaming.max_resumes)`
          : t.whyNotResumable();
    if (why) return this.giveUp(failure, reason, why);
    return this.resume(failure, reason).catch(this.onThrow);
  }

  private async resume(failure: GatewayError, reason: string): Promise<IteratorResult<StreamEvent>> {
    const { o } = this;
    const body = await o.transcript.continuation(o.original, this.segment.body);
    const from = this.segment.deployment;
    let next: Segment;
    try {
      next = await o.open(body);
    } catch (err) {
      return this.giveUp(failure, reason, `no deployment could continue it (${toGatewayError(err).message})`);
    }
    this.segment = next;
    this.events = next.events[Symbol.asyncIterator]();
    this.resumes++;
    this.resumed.push(next.deployment);
    o.onResume({ from, reason, to: next.deployment });
    return this.next();
  }

  private giveUp(failure: GatewayError, reason: string, why: string): IteratorResult<StreamEvent> {
    this.o.onResume({ from: this.segment.deployment, reason, notResumed: why });
    this.over = true;
    return { value: { type: 'error', error: notResumed(failure, why) }, done: false };
  }

  /** The answer is complete: its counted usage if the upstream reported none, the resume note, then done. */
  private async finish(): Promise<IteratorResult<StreamEvent>> {
    this.over = true;
    const usage = await this.o.transcript.missingUsage(this.segment.body);
    if (usage) this.queued.push({ type: 'chunk', data: usage });
    // A header-like SSE comment: clients ignore it, a person reading the stream (or a proxy log) sees it.
    if (this.resumed.length > 0) {
      this.queued.push({ type: 'comment', text: `x-lifeline-resumed: ${this.resumed.length}; on=${this.resumed.join(',')}` });
    }
    this.queued.push({ type: 'done' });
    return { value: this.queued.shift() as StreamEvent, done: false };
  }

  /** Stops reading the current segment, as leaving a for-await loop would (its relay frees the upstream). */
  private closeSegment(): void {
    this.events.return?.().catch(() => undefined);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.o.onUsage(this.o.transcript.usage);
  }
}

/** Failures that are an answer about the request itself, not an accident of the connection. */
const REFUSALS: ReadonlySet<string> = new Set(['content_policy', 'bad_request', 'context_length', 'auth']);

function notResumed(failure: GatewayError, why: string): GatewayError {
  return new GatewayError(failure.kind, `${failure.message}; the stream could not be resumed: ${why}`, {
    status: failure.status,
    ...(failure.code !== undefined ? { code: failure.code } : {}),
    ...(failure.deployment !== undefined ? { deployment: failure.deployment } : {}),
    retryable: false,
  });
}

/** Runs `fn` once the generator ends, however it ends (done, error, or the consumer stopping early). */
export async function* withFinally<T>(events: AsyncIterable<T>, fn: () => void): AsyncGenerator<T> {
  try {
    yield* events;
  } finally {
    fn();
  }
}

export interface ResumableOptions {
  streaming: StreamingConfig;
  /** The upstream model the tokenizer counts for. */
  tokenizerModel: string;
  /** The client-facing model, for metrics. */
  model: string;
  requestId: string;
  /** Opens a continuation; `failed` is the deployment whose stream just failed (tried last). */
  open(body: Record<string, unknown>, failed: string): Promise<Segment>;
  metrics?: Metrics;
  logger?: Logger;
  /** Runs once the stream ends, however it ends (done, error, or the consumer stopping early). */
  onEnd?: () => void;
}

/** `survive` with the gateway's bookkeeping: resumes and usage into the result's meta, a metric and a log line each. */
export function resumable(
  first: Segment,
  meta: { resumes?: ResumeRecord[]; usage?: Usage },
  o: ResumableOptions,
): AsyncIterableIterator<StreamEvent> {
  let failed = first.deployment;
  return survive(first, {
    transcript: new Transcript(o.tokenizerModel, o.streaming.resume_max_chars),
    original: first.body,
    resume: o.streaming.resume,
    maxResumes: o.streaming.max_resumes,
    open: (body) => o.open(body, failed),
    onResume: (r) => {
      meta.resumes = [...(meta.resumes ?? []), r];
      if (r.to) failed = r.to;
      o.metrics?.streamResumes.inc({ model: o.model, outcome: r.to ? 'resumed' : 'not_resumed' });
      o.logger?.warn({ requestId: o.requestId, ...r }, r.to ? 'stream resumed' : 'stream failed and was not resumed');
    },
    onUsage: (usage) => {
      if (usage) meta.usage = usage;
      o.onEnd?.();
    },
  });
}
