import { Cancel, type CancelSignal } from '../cancel.js';
import { countChatPromptTokensAsync } from '../context/index.js';
import { type GatewayError, toGatewayError } from '../errors.js';
import type { Deployment, Operation, StreamEvent } from '../types.js';
import type { DeploymentHealth } from '../routing/health.js';
import type { Route } from '../routing/routes.js';
import { chooseTarget } from './choose.js';
import type { Deployments } from '../routing/deployments.js';
import { type AttemptInput, type AttemptRecord, attemptStream, type CommittedStream, settleLater, streamEndedEarly } from './attempt.js';
import { race, type Racer } from './hedge.js';
import type { StreamSink } from './sink.js';
import type { RequestTrace } from '../observability/tracing.js';

/** A stream attempt about to start: where it goes and what it reports to. */
export interface Launch {
  d: Deployment;
  health: DeploymentHealth;
  record: AttemptRecord;
  input: AttemptInput;
  t0: number;
}

export type Won = Launch & { committed: CommittedStream };

export interface HedgePlan {
  /** No first token by then → a hedge; undefined = no hedging. */
  afterMs: number | undefined;
  /** The hedge's launch, or undefined when there is no other healthy deployment or no budget. */
  hedge(): Launch | undefined;
  /** The request's deadline signal: an attempt that ends because it fired says nothing about health. */
  deadline: CancelSignal;
  onHedge(winner: 'primary' | 'hedge'): void;
}

/**
 * Commits a stream on its first token, hedged when the model asks for it. Without a hedge this is the plain
 * attempt, and its failure is the caller's to handle. With one, the loser is aborted at once (the upstream sees
 * its stream closed) and accounted for here: its slot released, its record marked, a real failure (not a loss)
 * recorded against its health.
 */
export async function commitStream(launch: Launch, plan: HedgePlan): Promise<Won> {
  if (plan.afterMs === undefined) return { ...launch, committed: await attemptStream(launch.input, launch.d, launch.record) };
  let hedged = false;
  const result = await race(racer(launch, plan.deadline), plan.afterMs, () => {
    const next = plan.hedge();
    hedged = next !== undefined;
    return next && racer(next, plan.deadline);
  });
  if (hedged) plan.onHedge(result.winner);
  return result.value;
}

function racer(launch: Launch, deadline: CancelSignal): Racer<Won> {
  // Aborted when this racer loses, or with the request (its deadline or its client).
  const cancel = new Cancel();
  const unlink = cancel.follow(launch.input.signal);
  let lost = false;
  const input = { ...launch.input, signal: cancel.signal };
  const { record, health } = launch;
  return {
    promise: attemptStream(input, launch.d, launch.record).then((committed) => ({ ...launch, committed })),
    abort() {
      // Accounted now, not when its socket has wound down: the request's log line may be written first.
      lost = true;
      cancel.abort();
      record.ms = Math.round(performance.now() - launch.t0);
      record.kind = 'hedge_lost';
      launch.input.trace?.end(record);
      if (launch.input.op === 'chat') {
        // Counted in slices (a long prompt would hold the loop); the request's log line waits for it.
        const count = countChatPromptTokensAsync(launch.input.body, launch.d.model);
        settleLater(
          record,
          count.then((n) => {
            record.usage = { prompt_tokens: n, completion_tokens: 0 };
          }),
        );
      }
      health.release();
    },
    dispose(outcome) {
      unlink();
      if ('value' in outcome) outcome.value.committed.response.discard();
      if (lost) return; // a loser: accounted for in abort()
      // A real failure, while the other attempt went on.
      const error = toGatewayError('error' in outcome ? outcome.error : undefined);
      record.ms = Math.round(performance.now() - launch.t0);
      record.kind = error.kind;
      record.status ??= error.upstreamStatus;
      launch.input.trace?.end(record, { cancelled: deadline.aborted });
      if (!deadline.aborted) health.recordFailure(Date.now(), error.kind, error.retryAfterMs, error);
      health.release();
    },
  };
}

export interface HedgeContext {
  op: Operation;
  route: Route;
  /** The attempt that has no first token yet. */
  slow: Deployment;
  input: AttemptInput;
  excluded: ReadonlySet<string>;
  tried: Set<string>;
  attempts: AttemptRecord[];
  /** The hedge continues a resumed stream. */
  resume: boolean;
  /** The request's span (tracing on): the hedge gets its own attempt span under it. */
  trace?: RequestTrace | undefined;
}

/**
 * A second attempt for a stream with no first token yet, on a different healthy deployment. It is a retry of
 * the slow attempt, so it is paid from the slow deployment's retry budget: hedging adds at most
 * `budget_ratio` of that deployment's traffic.
 */
export function launchHedge(h: HedgeContext, deployments: Deployments, rand: () => number): Launch | undefined {
  const now = Date.now();
  const choice = chooseTarget(h.op, h.route, deployments, new Set([...h.excluded, ...h.tried]), h.tried, now, rand);
  if (choice.type !== 'fresh') return undefined;
  const d = choice.target.deployment;
  const health = deployments.health(d.id);
  if (!health.tryAcquire(now)) return undefined;
  if (!deployments.budget(h.slow.id).tryRetry(now)) {
    health.release();
    return undefined;
  }
  h.tried.add(d.id);
  const record: AttemptRecord = { deployment: d.id, ms: 0, hedge: true, ...(h.resume ? { resume: true } : {}) };
  h.attempts.push(record);
  const trace = h.trace?.attempt({ kind: 'hedge', deployment: d, model: h.route.model.name, op: h.op, number: h.attempts.length, stream: true });
  return { d, health, record, input: trace ? { ...h.input, trace } : h.input, t0: performance.now() };
}

/**
 * What a committed stream reports, and when. Its success (health, time to first token) once the first token is on
 * its way to the client (the next event-loop turn), so that none of it is on the first token's path; or, if the
 * stream ends first, just before its end, so that a failure is never recorded ahead of the success it follows.
 * Returns the stream's `onEnd`: a failure (not one the request's deadline or client caused) and the slot, once.
 */
export function streamAccounting(
  health: DeploymentHealth,
  deadline: CancelSignal,
  success: () => void,
): (error: GatewayError | undefined) => void {
  let accounted = false;
  const account = (): void => {
    if (accounted) return;
    accounted = true;
    success();
  };
  setImmediate(account);
  let ended = false;
  return (error) => {
    if (ended) return;
    ended = true;
    account();
    if (error && !deadline.aborted) health.recordFailure(Date.now(), error.kind, error.retryAfterMs, error);
    health.release();
  };
}

/** How a committed stream ended: with its `done`, with a failure, or `stopped` because the request ended (its client). */
export type FeedEnd = 'done' | 'stopped' | GatewayError;

/**
 * An attempt's way into the answer's sink (the model loop gives one to each attempt, shared with its hedge): its
 * accept, and its commit. The first of the pair to read its first token commits: the sink hears who answers and gets
 * the head in that same turn, the token with `now`; the other one has lost.
 */
export function toSink(sink: StreamSink, attempts: readonly unknown[]): Pick<AttemptInput, 'onAccepted' | 'onCommit'> {
  let committed = false;
  return {
    onAccepted: (deployment) => sink.accepted({ deployment, attempts: attempts.length }),
    onCommit: (d, head) => {
      if (committed) return false;
      committed = true;
      sink.commit({ deployment: d.id, attempts: attempts.length });
      const last = head.length - 1;
      for (let i = 0; i <= last; i++) {
        const e = head[i] as StreamEvent;
        if (e.type !== 'done') sink.write(e, i === last); // a done (no token at all) ends the Feed at once
      }
      return true;
    },
  };
}

/**
 * A committed upstream stream (its head written at commit) feeding the rest of the answer into the sink. `pump`
 * writes the rest, each event once, with the sink's backpressure, until the stream ends; its end is returned, not
 * written (a resumed answer decides what follows a failure). `onEnd` runs exactly once, with the error if the
 * stream failed; after a `done` the rest of the upstream body is read in the background so that its connection
 * goes back to the pool.
 */
export class Feed {
  private failure: GatewayError | undefined;
  private over = false;

  constructor(
    private readonly stream: CommittedStream,
    readonly d: Deployment,
    private readonly onEnd: (error: GatewayError | undefined) => void,
  ) {}

  async pump(sink: StreamSink, stop: CancelSignal): Promise<FeedEnd> {
    if (this.stream.head.at(-1)?.type === 'done') return this.end(true);
    const rest = this.stream.rest;
    try {
      for (;;) {
        if (stop.aborted) return this.end(false);
        let next: IteratorResult<StreamEvent>;
        try {
          next = await rest.next();
        } catch (err) {
          if (stop.aborted) return this.end(false); // the request ended, which aborted the read
          return this.fail(toGatewayError(err));
        }
        if (next.done) return this.fail(streamEndedEarly(this.d, 'without [DONE]'));
        const e = next.value;
        if (e.type === 'done') return this.end(true);
        if (e.type === 'error') return this.fail(e.error);
        if (!sink.write(e)) await sink.drained();
      }
    } catch (err) {
      if (!this.over) this.end(false); // the sink threw: the upstream is freed all the same
      throw err;
    }
  }

  /** Frees the upstream and the deployment's slot: the stream will not be pumped (idempotent). */
  cancel(): void {
    if (!this.over) this.end(false);
  }

  private fail(failure: GatewayError): GatewayError {
    failure.deployment ??= this.d.id;
    this.failure = failure;
    this.end(false);
    return failure;
  }

  private end(complete: boolean): FeedEnd {
    this.over = true;
    this.stream.endTrace?.(complete ? {} : this.failure ? { error: this.failure } : { cancelled: true });
    if (complete) {
      void drain(this.stream).then(() => this.onEnd(undefined));
      return 'done';
    }
    this.stream.response.discard();
    this.onEnd(this.failure);
    return this.failure ?? 'stopped';
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
