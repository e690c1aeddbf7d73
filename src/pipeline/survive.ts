import type { StreamingConfig } from '../config/types.js';
import { GatewayError, toGatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { StreamEvent } from '../providers/types.js';
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
export async function* survive(first: Segment, o: SurviveOptions): AsyncGenerator<StreamEvent> {
  const t = o.transcript;
  let segment = first;
  let resumes = 0;
  const resumed: string[] = [];
  try {
    for (;;) {
      let failure: GatewayError | undefined;
      for await (const e of segment.events) {
        if (e.type === 'chunk') {
          const out = t.accept(e.data);
          if (out === e.data) yield e;
          else if (out !== '') yield { type: 'chunk', data: out };
        } else if (e.type === 'done') {
          yield* finish(t, segment, resumed);
          return;
        } else if (e.type === 'error') {
          failure = e.error;
          break; // ends the segment's relay (its health is recorded) before anything is chosen to continue
        } else {
          yield e;
        }
      }
      failure ??= new GatewayError('connection', `Upstream ${segment.deployment} ended the stream early`, {
        code: 'upstream_stream_truncated',
      });
      if (t.finished) {
        // The finish_reason arrived: the answer is whole, only the stream's tail was lost.
        yield* finish(t, segment, resumed);
        return;
      }
      const reason = failure.code ?? failure.kind;
      const why = !o.resume
        ? 'streaming.resume is off'
        : REFUSALS.has(failure.kind)
          ? `the upstream refused to go on (${failure.kind}); another would be asked the same`
          : resumes >= o.maxResumes
          ? `it was already resumed ${resumes} time(s) (streaming.max_resumes)`
          : t.whyNotResumable();
      if (why) {
        o.onResume({ from: segment.deployment, reason, notResumed: why });
        yield { type: 'error', error: notResumed(failure, why) };
        return;
      }
      const body = await t.continuation(o.original, segment.body);
      try {
        const from = segment.deployment;
        segment = await o.open(body);
        resumes++;
        resumed.push(segment.deployment);
        o.onResume({ from, reason, to: segment.deployment });
      } catch (err) {
        const why = `no deployment could continue it (${toGatewayError(err).message})`;
        o.onResume({ from: segment.deployment, reason, notResumed: why });
        yield { type: 'error', error: notResumed(failure, why) };
        return;
      }
    }
  } finally {
    o.onUsage(t.usage);
  }
}

/** Failures that are an answer about the request itself, not an accident of the connection. */
const REFUSALS: ReadonlySet<string> = new Set(['content_policy', 'bad_request', 'context_length', 'auth']);

async function* finish(t: Transcript, segment: Segment, resumed: string[]): AsyncGenerator<StreamEvent> {
  const usage = await t.missingUsage(segment.body);
  if (usage) yield { type: 'chunk', data: usage };
  // A header-like SSE comment: clients ignore it, a person reading the stream (or a proxy log) sees it.
  if (resumed.length > 0) yield { type: 'comment', text: `x-lifeline-resumed: ${resumed.length}; on=${resumed.join(',')}` };
  yield { type: 'done' };
}

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
): AsyncGenerator<StreamEvent> {
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
