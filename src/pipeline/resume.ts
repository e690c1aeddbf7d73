import type { CancelSignal } from '../cancel.js';
import type { StreamingConfig } from '../config/types.js';
import { GatewayError, toGatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { StreamEvent } from '../types.js';
import type { StreamInfo, StreamSink } from './sink.js';
import type { Feed } from './stream-attempt.js';
import { Transcript, type Usage } from './transcript.js';

/** One upstream stream of an answer, committed (the sink has its head): the rest to pump, and the request it ran. */
export interface Segment {
  feed: Pick<Feed, 'pump'>;
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

export interface ResumeHooks {
  /** The answer's transcript, made when it commits on `deployment` (the tokenizer counts for its model). */
  transcript(deployment: string): Transcript;
  /** `streaming.resume`. */
  resume: boolean;
  maxResumes: number;
  /**
   * Opens the continuation on a prefill-capable deployment, `failed` tried last; its head is written through this
   * Resume as it commits. Rejects when no deployment can take it.
   */
  open(body: Record<string, unknown>, failed: string): Promise<Segment>;
  /** Called once per failed segment, resumed or not. */
  onResume(record: ResumeRecord): void;
  /** Called once when the answer is over, however it ends, with its usage as far as known. */
  onUsage(usage: Usage | undefined): void;
}

/**
 * A chat answer that resumes: when a segment (one upstream stream) fails after the client has been sent part of
 * the answer, the answer continues on another (prefill) and is stitched in by the transcript, so the client sees one
 * answer: one id, one role, one finish_reason, the text exactly as if uncut, usage summed. When it cannot continue
 * (resume off, no capable deployment, a tool call in progress, …) the client gets an explicit error event naming why,
 * never a clean-looking end. A stream cut after its finish_reason is complete and ends cleanly.
 *
 * It is the sink its segments write to: each chunk passes the transcript in the turn it is read (the first
 * segment's observed as it goes to `out` byte for byte; a continuation's rewritten on its way). Only the first
 * segment's accept and commit reach `out`: the client has its headers by the time a continuation is opened.
 */
export class Resume implements StreamSink {
  /** The deployment the answer committed on (its model counts the tokens); the transcript is made on first use. */
  private first: string | undefined;
  private t: Transcript | undefined;
  /** The head's chunks, written and not yet observed: the transcript sees them once the first token is out. */
  private unseen: string[] | undefined;
  /** A continuation is on its way: chunks are rewritten from now on. */
  private continued = false;
  /** The deployments the answer continued on. */
  private readonly resumed: string[] = [];

  constructor(
    private readonly out: StreamSink,
    private readonly o: ResumeHooks,
  ) {}

  accepted(info: StreamInfo): void {
    if (this.first === undefined) this.out.accepted(info);
  }

  commit(info: StreamInfo): void {
    if (this.first !== undefined) return; // a continuation: `x-lifeline-resumed` names it at the end
    this.first = info.deployment;
    this.unseen = [];
    this.out.commit(info);
  }

  write(e: StreamEvent, now?: boolean): boolean {
    if (e.type !== 'chunk') return this.out.write(e, now);
    if (this.continued) {
      const data = this.transcript().accept(e.data);
      return data === '' || this.out.write(data === e.data ? e : { type: 'chunk', data }, now);
    }
    // The first segment passes byte for byte: to the client first, then into the transcript; its head (up to the
    // first token, handed over with `now`) is observed only once the token is out.
    const ok = this.out.write(e, now);
    if (this.unseen && !now) this.unseen.push(e.data);
    else this.transcript().accept(e.data);
    return ok;
  }

  drained(): Promise<void> {
    return this.out.drained();
  }

  /**
   * Writes the answer from its first segment (committed through this Resume) to its last event, resuming it where
   * it can; resolves when that is written, or at once when `stop` aborts (the client went away).
   */
  async run(first: Segment, stop: CancelSignal): Promise<void> {
    const original = first.body;
    try {
      for (let segment: Segment | undefined = first; segment; ) {
        const end = await segment.feed.pump(this, stop);
        if (end === 'stopped') return;
        segment = end === 'done' ? await this.finish(segment) : await this.failed(segment, end, original);
      }
    } finally {
      this.o.onUsage(this.first === undefined ? undefined : this.transcript().usage);
    }
  }

  /** A segment failed: the answer continues on the next one, or ends here (undefined) with an error event or done. */
  private async failed(segment: Segment, failure: GatewayError, original: Record<string, unknown>): Promise<Segment | undefined> {
    const { o } = this;
    const t = this.transcript();
    // The finish_reason arrived: the answer is whole, only the stream's tail was lost.
    if (t.finished) return this.finish(segment);
    const reason = failure.code ?? failure.kind;
    const why = !o.resume
      ? 'streaming.resume is off'
      : REFUSALS.has(failure.kind)
        ? `the upstream refused to go on (${failure.kind}); another would be asked the same`
        : this.resumed.length >= o.maxResumes
          ? `it was already resumed ${this.resumed.length} time(s) (streaming.max_resumes)`
          : t.whyNoResume();
    if (why) return this.giveUp(segment, failure, reason, why);
    this.continued = true;
    const body = await t.continuation(original, segment.body);
    let next: Segment;
    try {
      next = await o.open(body, segment.deployment);
    } catch (err) {
      return this.giveUp(segment, failure, reason, `no deployment could continue it (${toGatewayError(err).message})`);
    }
    this.resumed.push(next.deployment);
    o.onResume({ from: segment.deployment, reason, to: next.deployment });
    return next;
  }

  private giveUp(segment: Segment, failure: GatewayError, reason: string, why: string): undefined {
    this.o.onResume({ from: segment.deployment, reason, notResumed: why });
    this.out.write({ type: 'error', error: notResumed(failure, why) });
    return undefined;
  }

  /** The answer is complete: its counted usage if the upstream reported none, the resume note, then done. */
  private async finish(segment: Segment): Promise<undefined> {
    const usage = await this.transcript().missingUsage(segment.body);
    if (usage && !this.out.write({ type: 'chunk', data: usage })) await this.out.drained();
    // A header-like SSE comment: clients ignore it, a person reading the stream (or a proxy log) sees it.
    if (this.resumed.length > 0) {
      const text = `x-lifeline-resumed: ${this.resumed.length}; on=${this.resumed.join(',')}`;
      if (!this.out.write({ type: 'comment', text })) await this.out.drained();
    }
    this.out.write({ type: 'done' });
    return undefined;
  }

  /** The transcript, made on first use, with the head's chunks observed first. */
  private transcript(): Transcript {
    if (this.first === undefined) throw new GatewayError('internal', 'A stream was written before it committed');
    this.t ??= this.o.transcript(this.first);
    const unseen = this.unseen;
    if (unseen) {
      this.unseen = undefined;
      for (const data of unseen) this.t.accept(data);
    }
    return this.t;
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

export interface ResumeOptions {
  streaming: StreamingConfig;
  /** The upstream model a deployment serves, for the tokenizer. */
  modelOf(deployment: string): string;
  /** The client-facing model, for metrics. */
  model: string;
  requestId: string;
  /** Opens a continuation; `failed` is the deployment whose stream just failed (tried last). */
  open(body: Record<string, unknown>, failed: string): Promise<Segment>;
  metrics?: Metrics;
  logger?: Logger;
}

/** A Resume with the gateway's bookkeeping: resumes and usage into the result's meta, a metric and a log line each. */
export function resumeWith(out: StreamSink, meta: () => { resumes?: ResumeRecord[]; usage?: Usage }, o: ResumeOptions): Resume {
  return new Resume(out, {
    transcript: (deployment) => new Transcript(o.modelOf(deployment), o.streaming.resume_max_chars),
    resume: o.streaming.resume,
    maxResumes: o.streaming.max_resumes,
    open: o.open,
    onResume: (r) => {
      const m = meta();
      m.resumes = [...(m.resumes ?? []), r];
      o.metrics?.streamResumes.inc({ model: o.model, outcome: r.to ? 'resumed' : 'not_resumed' });
      o.logger?.warn({ requestId: o.requestId, ...r }, r.to ? 'stream resumed' : 'stream failed and was not resumed');
    },
    onUsage: (usage) => {
      if (usage) meta().usage = usage;
    },
  });
}
