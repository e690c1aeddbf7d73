/**
 * Applying a fault to one response, for any dialect: a dialect builds the reply (a JSON body or a script of
 * SSE events) and renders its error bodies; this module decides the timing and where the bytes stop.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { type Fault, type Outcome, streamStop } from './faults.js';
import type { MockRequestRecord } from './stats.js';

/** One ready-to-write stream event: SSE text, or a binary frame (AWS event stream). */
export type StreamEventBytes = string | Buffer;

/** A streamed answer as ready-to-write events. */
export interface StreamScript {
  /** Default `text/event-stream`; Bedrock's binary frames use `application/vnd.amazon.eventstream`. */
  contentType?: string;
  /** Events before the content (OpenAI: the `role: "assistant"` chunk, or the tool call's header). */
  head: StreamEventBytes[];
  /** The content events: what `cut_after`/`stall_after`/`error_event_after` and `chunksSent` count. */
  content: StreamEventBytes[];
  /** Events after the content: finish reason, usage, terminator. */
  tail: StreamEventBytes[];
  /** The mid-stream error event for `error_event_after`. */
  errorEvent(fault: Fault): StreamEventBytes;
  /** An event whose data is not valid JSON. */
  malformedEvent: StreamEventBytes;
  /** The usage event in `tail`, if there is one: the `no_usage` fault leaves it out. */
  usageEvent?: StreamEventBytes;
  /** `invalid_events`: the i-th (0-based) event whose data is not a chunk; default an SSE `data:` event. */
  invalidEvent?(i: number, data: string): StreamEventBytes;
  /** `long_line_bytes`: how the endless event starts (its filler follows); default an SSE `data: `. */
  longEventStart?(bytes: number): StreamEventBytes;
}

export type Reply = { kind: 'json'; body: string } | { kind: 'sse'; script: StreamScript };

/** The part of a dialect the fault engine needs besides the reply itself. */
export interface FaultRenderer {
  /** The error body (JSON text) for a `status` fault. */
  faultError(fault: Fault): string;
}

/** One request in flight, as the server hands it over. */
export interface Exchange {
  res: ServerResponse;
  /** Aborted when the client goes away or the mock shuts down: every wait ends with it. */
  signal: AbortSignal;
  /** Headers every response of this exchange carries (e.g. `x-request-id`). */
  headers: Record<string, string>;
  record: MockRequestRecord;
  /** Ends the exchange by destroying the socket — the mock's doing, not the client's. */
  destroy(how: 'reset' | 'cut'): void;
}

const JSON_TYPE = 'application/json';

/** Waits `ms` unless the exchange is aborted first; false means "stop, nobody is listening". */
export async function pause(ms: number | undefined, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (!ms) return true;
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** Writes and waits until the bytes are handed to the socket, so a following destroy doesn't drop them. */
function send(x: Exchange, data: StreamEventBytes): Promise<boolean> {
  const { res, signal } = x;
  if (signal.aborted || res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    res.write(data, (err) => {
      signal.removeEventListener('abort', onAbort);
      resolve(!err);
    });
  });
}

function faultHeaders(fault: Fault): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(fault.headers ?? {})) headers[name.toLowerCase()] = value;
  if (fault.retry_after !== undefined) headers['retry-after'] = String(fault.retry_after);
  if (fault.retry_after_ms !== undefined) headers['retry-after-ms'] = String(fault.retry_after_ms);
  return headers;
}

function writeHead(x: Exchange, status: number, fault: Fault, headers: Record<string, string>): void {
  x.record.status = status;
  x.res.writeHead(status, { ...x.headers, ...faultHeaders(fault), ...headers });
}

/** A strict prefix of a JSON object is never valid JSON. */
function halfOf(body: string): string {
  return body.slice(0, Math.max(1, Math.floor(body.length / 2)));
}

/** A whole (non-streamed) body; `cut`/`stall` send only its first half, `malformed` sends only that half. */
async function sendBody(x: Exchange, status: number, body: string, fault: Fault, outcome: Outcome): Promise<void> {
  const whole = outcome === 'malformed' ? halfOf(body) : body;
  writeHead(x, status, fault, { 'content-type': JSON_TYPE, 'content-length': String(Buffer.byteLength(whole)) });
  if (fault.first_token_ms) {
    x.res.flushHeaders();
    if (!(await pause(fault.first_token_ms, x.signal))) return;
  }
  if (outcome === 'cut' || outcome === 'stall') {
    if (!(await send(x, halfOf(whole)))) return;
    if (outcome === 'cut') x.destroy('cut');
    return; // stall: keep the connection open, send nothing more
  }
  x.res.end(whole);
}

async function sendStream(x: Exchange, script: StreamScript, fault: Fault, outcome: Outcome): Promise<void> {
  writeHead(x, 200, fault, { 'content-type': script.contentType ?? 'text/event-stream', 'cache-control': 'no-cache' });
  x.res.flushHeaders();
  if (!(await pause(fault.first_token_ms, x.signal))) return;
  if (outcome === 'malformed') {
    if (await send(x, script.malformedEvent)) x.res.end();
    return;
  }

  const stop = outcome === 'ok' ? null : streamStop(fault, script.content.length);
  const tail = fault.no_usage ? script.tail.filter((event) => event !== script.usageEvent) : script.tail;
  const events: Array<{ text: StreamEventBytes; content: boolean }> = [
    ...script.head.map((text) => ({ text, content: false })),
    ...script.content.slice(0, stop ? stop.after : undefined).map((text) => ({ text, content: true })),
  ];
  if (fault.invalid_events) {
    const at = script.head.length + Math.min(fault.garbage_after ?? 0, script.content.length, stop ? stop.after : Number.POSITIVE_INFINITY);
    events.splice(at, 0, ...invalidEvents(script, fault.invalid_events).map((text) => ({ text, content: false })));
  }
  if (!stop) events.push(...tail.map((text) => ({ text, content: false })));
  else if (stop.kind === 'error_event') events.push({ text: script.errorEvent(fault), content: false });

  // Without a gap, everything goes out in one write: cheap, and still a valid stream of events.
  const gap = fault.chunk_gap_ms ?? 0;
  const pacer = new Pacer(x);
  let buffer: Buffer[] = [];
  let bufferedContent = 0;
  /** `handed`: wait until the bytes are handed to the socket (a destroy follows). */
  const flush = async (handed: boolean): Promise<boolean> => {
    if (buffer.length === 0) return true;
    const data = buffer.length === 1 ? buffer[0]! : Buffer.concat(buffer);
    const ok = await (handed ? send(x, data) : pacer.write(data));
    if (ok) x.record.chunksSent += bufferedContent;
    buffer = [];
    bufferedContent = 0;
    return ok;
  };
  try {
    const clock = new StreamClock(gap);
    // The tail after its first event (usage, the terminator) follows at once, as providers send it: a gap there
    // would make a stream that asked for usage one gap longer than the same stream without.
    const together = stop ? events.length : events.length - tail.length + 1;
    for (let i = 0; i < events.length; i++) {
      if (i > 0 && gap > 0 && i < together) {
        if (!(await flush(false)) || !(await pacer.sleep(clock.next()))) return;
      }
      const text = events[i]!.text;
      buffer.push(typeof text === 'string' ? Buffer.from(text) : text);
      if (events[i]!.content) bufferedContent++;
    }
    if (!(await flush(stop?.kind === 'cut'))) return;

    if (stop?.kind === 'long_line') await sendLongEvent(pacer, script, fault.long_line_bytes ?? 0);
    else if (stop?.kind === 'cut') x.destroy('cut');
    else if (stop?.kind !== 'stall') {
      // With a gap the body's end comes a moment after the last event, as over a real network: a client that drops
      // the body as soon as it has the last event (before the end) loses its keep-alive connection.
      if (gap > 0 && !(await pacer.sleep(Math.min(gap, END_DELAY_MS)))) return;
      x.res.end();
    }
  } finally {
    pacer.close();
  }
}

/** Alternately text that is not JSON and JSON that is not an object: invalid as a chunk in every dialect. */
function invalidEvents(script: StreamScript, n: number): StreamEventBytes[] {
  return Array.from({ length: n }, (_, i) => {
    const data = i % 2 === 0 ? `lifeline mock: invalid event ${i + 1}` : `[${i + 1}]`;
    return script.invalidEvent ? script.invalidEvent(i, data) : `data: ${data}\n\n`;
  });
}

const FILLER = Buffer.alloc(64 * 1024, 'x');

/** An event that never ends: `bytes` in all, written as the socket takes them (a reader that gives up stops it). */
async function sendLongEvent(pacer: Pacer, script: StreamScript, bytes: number): Promise<void> {
  const start = script.longEventStart?.(bytes) ?? 'data: ';
  const head = typeof start === 'string' ? Buffer.from(start) : start;
  if (!(await pacer.write(head))) return;
  for (let left = bytes - head.length; left > 0; left -= FILLER.length) {
    if (!(await pacer.write(left >= FILLER.length ? FILLER : FILLER.subarray(0, left)))) return;
  }
}

/**
 * One stream's gaps and writes, with one abort listener for the whole stream: a listener, a promise and an
 * AbortSignal-aware timer per write and per gap made the mock's own JS cost more than a pass-through proxy's.
 */
class Pacer {
  private wake: ((ok: boolean) => void) | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly x: Exchange) {
    x.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Waits `ms`; false when the exchange is aborted first. */
  sleep(ms: number): Promise<boolean> {
    if (this.x.signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(this.onTimer, ms);
    });
  }

  /** Writes; waits only while the socket is behind. False when the exchange is aborted or the socket is gone. */
  write(data: Buffer): boolean | Promise<boolean> {
    const { res, signal } = this.x;
    if (signal.aborted || res.destroyed) return false;
    if (res.write(data)) return true;
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        res.off('drain', onDrain);
        res.off('close', onClose);
        this.wake = undefined;
        resolve(ok);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      this.wake = done;
      res.once('drain', onDrain);
      res.once('close', onClose);
    });
  }

  close(): void {
    clearTimeout(this.timer);
    this.x.signal.removeEventListener('abort', this.onAbort);
  }

  private readonly onTimer = (): void => {
    const wake = this.wake;
    this.wake = undefined;
    wake?.(true);
  };

  private readonly onAbort = (): void => {
    clearTimeout(this.timer);
    const wake = this.wake;
    this.wake = undefined;
    wake?.(false);
  };
}

/**
 * Plays out `outcome` (from `plannedOutcome`) for this exchange. Resolves when the mock has nothing more to
 * do — which for `hang` and `stall` is long before the connection closes.
 */
export async function deliver(
  x: Exchange,
  fault: Fault | null,
  outcome: Outcome,
  reply: Reply,
  renderer: FaultRenderer,
): Promise<void> {
  const f = fault ?? {};
  if (outcome === 'hang') return; // never answer; the server notices when the client gives up
  if (!(await pause(f.latency_ms, x.signal))) return;
  if (outcome === 'reset') {
    x.destroy('reset');
    return;
  }
  if (outcome === 'status') {
    await sendBody(x, f.status ?? 500, renderer.faultError(f), f, 'status');
    return;
  }
  if (reply.kind === 'json') await sendBody(x, 200, reply.body, f, outcome);
  else await sendStream(x, reply.script, f, outcome);
}

/**
 * Each stream's events keep to the stream's own clock (its first event, then one `gap` after another), so
 * streams that started at different moments stay apart, as independent users' streams do. Waiting `gap`
 * after each write instead lets the streams drift into lockstep: timers started in the same event-loop turn
 * share a start time, so after a busy turn several streams fire together ever after, and a proxy in front sees
 * every stream's chunk in one burst. A stream that fell behind (a slow reader) starts a new clock, no burst.
 */
export class StreamClock {
  private due: number;

  constructor(
    private readonly gap: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.due = now();
  }

  /** How long to wait for the next event. */
  next(): number {
    const now = this.now();
    this.due = Math.max(this.due + this.gap, now);
    return this.due - now;
  }
}

/** How long after its last event a gapped stream's body ends: a separate packet, not another chunk gap. */
const END_DELAY_MS = 1;
