/**
 * The fault plan: what goes wrong, for which request. Pure — no sockets, no timers — so the choice of a
 * fault can be tested on its own and is reproducible from a seed.
 */

/** One thing that can go wrong with a response (several may be combined; see `plannedOutcome`). */
export interface Fault {
  /** Answer with this HTTP status (400–599) and the dialect's error body. */
  status?: number;
  /** Override the error body's code (e.g. `context_length_exceeded`, `content_filter`). */
  error_code?: string;
  /**
   * Set these fields of the error body (a `status` fault's, and the mid-stream error event's) as given, e.g. an
   * upstream that echoes the key it was sent. A field the dialect's body lacks (Anthropic's has only `type` and
   * `message`) is added anyway, as a misbehaving upstream would. OpenAI and Anthropic dialects.
   */
  error_fields?: ErrorFields;
  /** `Retry-After` header value: seconds, or an HTTP date. */
  retry_after?: string | number;
  /** `retry-after-ms` header value. */
  retry_after_ms?: number;
  /** Extra response headers (e.g. `x-ratelimit-remaining-requests`). */
  headers?: Record<string, string>;
  /** Delay before the response headers. */
  latency_ms?: number;
  /** After the headers, delay before the first body byte (stream: the first chunk). */
  first_token_ms?: number;
  /** Stream: delay between chunks (the tail after the finish chunk, usage and terminator, follows it at once). */
  chunk_gap_ms?: number;
  /** Destroy the socket without any response. */
  reset?: boolean;
  /** Accept the request and never answer (until the client goes away). */
  hang?: boolean;
  /**
   * Stream: destroy the connection after N content chunks (no `[DONE]`); the opening role chunk is not counted,
   * so 0 means "headers and role chunk, then nothing". Non-stream: after half the body.
   */
  cut_after?: number;
  /** Stream: after N content chunks stop sending but keep the connection open. Non-stream: after half the body. */
  stall_after?: number;
  /** Stream: after N content chunks send an error event and end. Ignored by non-stream requests. */
  error_event_after?: number;
  /** A 200 whose body is not valid JSON (stream: an SSE event whose data is not valid JSON). */
  malformed?: boolean;
  /** Stream: no usage chunk even when the request asks for one (`stream_options.include_usage`), as some hosts do. */
  no_usage?: boolean;
  /**
   * Stream: after `garbage_after` content chunks, one event line of this many bytes that never ends (SSE: a `data:`
   * line with no line end; Bedrock: a frame claiming a little more than that), then nothing more, the
   * connection kept open. Ignored by non-stream requests.
   */
  long_line_bytes?: number;
  /**
   * Stream: after `garbage_after` content chunks, this many events whose data is not a chunk (alternately text that
   * is not JSON and JSON that is not an object), then the rest of the stream as usual, terminator included.
   * Ignored by non-stream requests.
   */
  invalid_events?: number;
  /** Stream: content chunks sent before `long_line_bytes` or `invalid_events` (default 0: right after the head). */
  garbage_after?: number;
}

export interface ErrorFields {
  message?: string;
  type?: string;
  code?: string;
  param?: string;
}

export interface FaultPlan {
  /** For every request not taken by `script` or `failure_rate`. */
  default?: Fault;
  /** The first requests get these, one each, in order (`{}` = healthy). */
  script?: Fault[];
  /** 0..1: after the script, the probability (seeded) that a request gets a fault from `mix`. */
  failure_rate?: number;
  /** Chosen uniformly with the seeded PRNG. */
  mix?: Fault[];
  /**
   * The plan holds for requests arriving within this many ms of the first one; every later request is healthy.
   * A rate limit exhausted for a while (`default: { status: 429, retry_after: 2 }, for_ms: 2000`), an outage that ends.
   */
  for_ms?: number;
  /**
   * Every model listing (`GET /v1/models`, `/v1beta/models`: what the gateway's synthetic probes ask) gets this
   * fault; listings never consume the script, so a test can fail the probes alone (`{ status: 500 }`, `{ reset: true }`).
   */
  models?: Fault;
}

export type Outcome =
  | 'ok'
  | 'status'
  | 'reset'
  | 'hang'
  | 'cut'
  | 'stall'
  | 'error_event'
  | 'malformed'
  | 'long_line'
  | 'invalid_events'
  | 'pending';

/** mulberry32: a tiny, fast 32-bit PRNG; the same seed always gives the same sequence in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** True when the fault changes nothing (`{}` in a script means "healthy"). */
export function isHealthy(fault: Fault | null | undefined): boolean {
  if (!fault) return true;
  return Object.values(fault).every((v) => v === undefined || v === false);
}

function copyFault(fault: Fault): Fault {
  return fault.headers ? { ...fault, headers: { ...fault.headers } } : { ...fault };
}

/**
 * Hands out faults to requests in arrival order: the script first, then `failure_rate`/`mix`, then `default`.
 * The PRNG is drawn only after the script, so the same seed and plan give the same sequence of faults.
 */
export class FaultSchedule {
  private position = 0;
  private readonly random: () => number;
  /** Arrival of the first request under this plan (`for_ms` counts from it). */
  private firstAt: number | undefined;

  constructor(
    private readonly plan: FaultPlan,
    seed: number,
  ) {
    this.random = mulberry32(seed);
  }

  /** The fault for the next request, or null for a healthy one. Returns a copy the caller may keep. */
  next(now: number = Date.now()): Fault | null {
    this.firstAt ??= now;
    if (this.plan.for_ms !== undefined && now - this.firstAt >= this.plan.for_ms) return null;
    const index = this.position++;
    const { script = [], failure_rate = 0, mix = [] } = this.plan;
    let fault: Fault | undefined;
    if (index < script.length) {
      fault = script[index];
    } else if (failure_rate > 0 && mix.length > 0 && this.random() < failure_rate) {
      fault = mix[Math.floor(this.random() * mix.length)];
    } else {
      fault = this.plan.default;
    }
    return fault && !isHealthy(fault) ? copyFault(fault) : null;
  }
}

/**
 * What the mock will do with a fault, decided before any I/O. Precedence when faults are combined:
 * reset > hang > status > malformed > the first stream fault to trigger.
 */
export function plannedOutcome(fault: Fault | null, stream: boolean): Outcome {
  if (!fault) return 'ok';
  if (fault.reset) return 'reset';
  if (fault.hang) return 'hang';
  if (fault.status !== undefined) return 'status';
  if (fault.malformed) return 'malformed';
  if (stream) return streamStop(fault, Number.POSITIVE_INFINITY)?.kind ?? (fault.invalid_events ? 'invalid_events' : 'ok');
  if (fault.cut_after !== undefined) return 'cut';
  if (fault.stall_after !== undefined) return 'stall';
  return 'ok';
}

export interface StreamStop {
  kind: 'cut' | 'stall' | 'error_event' | 'long_line';
  /** How many content chunks go out before it happens. */
  after: number;
}

/**
 * Where a stream stops short. A count beyond the content still stops before the finish chunk, so a scripted
 * fault always shows; on a tie cut wins over error_event over stall over long_line.
 */
export function streamStop(fault: Fault, contentChunks: number): StreamStop | null {
  const candidates: Array<[StreamStop['kind'], number | undefined]> = [
    ['cut', fault.cut_after],
    ['error_event', fault.error_event_after],
    ['stall', fault.stall_after],
    ['long_line', fault.long_line_bytes === undefined ? undefined : (fault.garbage_after ?? 0)],
  ];
  let best: StreamStop | null = null;
  for (const [kind, after] of candidates) {
    if (after === undefined) continue;
    const at = Math.min(after, contentChunks);
    if (!best || at < best.after) best = { kind, after: at };
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------------
// Validation: a plan arrives as untrusted JSON (PUT /_mock/plan, `lifeline mock --plan`); reject it with the
// path of the first bad field rather than misbehave later.

export class PlanError extends Error {
  override readonly name = 'PlanError';
  constructor(
    /** Path of the bad field, e.g. `script[2].status`. */
    readonly field: string,
    message: string,
  ) {
    super(`${field ? `plan.${field}` : 'plan'} ${message}`);
  }
}

type Check = (value: unknown) => string | null;

const nonNegative: Check = (v) =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? null : 'must be a non-negative number';
const count: Check = (v) => (Number.isInteger(v) && (v as number) >= 0 ? null : 'must be a non-negative integer');
const flag: Check = (v) => (typeof v === 'boolean' ? null : 'must be a boolean');
const text: Check = (v) => (typeof v === 'string' && v.length > 0 ? null : 'must be a non-empty string');
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MANAGED_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection']);

const ERROR_FIELDS = ['message', 'type', 'code', 'param'];

const FAULT_FIELDS: Record<keyof Fault, Check> = {
  status: (v) => (Number.isInteger(v) && (v as number) >= 400 && (v as number) <= 599 ? null : 'must be an integer from 400 to 599'),
  error_code: text,
  error_fields: (v) =>
    isObject(v) && Object.entries(v).every(([k, f]) => ERROR_FIELDS.includes(k) && typeof f === 'string')
      ? null
      : `must be an object of string fields (${ERROR_FIELDS.join(', ')})`,
  retry_after: (v) =>
    typeof v === 'string' ? (v.length > 0 && !/[\r\n]/.test(v) ? null : 'must be a non-empty single-line string') : nonNegative(v),
  retry_after_ms: nonNegative,
  headers: () => null, // checked per header below, to name the header
  latency_ms: nonNegative,
  first_token_ms: nonNegative,
  chunk_gap_ms: nonNegative,
  reset: flag,
  hang: flag,
  cut_after: count,
  stall_after: count,
  error_event_after: count,
  malformed: flag,
  no_usage: flag,
  long_line_bytes: count,
  invalid_events: count,
  garbage_after: count,
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkFault(value: unknown, path: string): Fault {
  if (!isObject(value)) throw new PlanError(path, 'must be an object');
  for (const [key, v] of Object.entries(value)) {
    const check = FAULT_FIELDS[key as keyof Fault];
    if (!check) throw new PlanError(`${path}.${key}`, `is not a fault field (known: ${Object.keys(FAULT_FIELDS).join(', ')})`);
    if (v === undefined) continue;
    const problem = check(v);
    if (problem) throw new PlanError(`${path}.${key}`, problem);
  }
  if (value.headers !== undefined) {
    if (!isObject(value.headers)) throw new PlanError(`${path}.headers`, 'must be an object of header name → string');
    for (const [name, v] of Object.entries(value.headers)) {
      const where = `${path}.headers.${name}`;
      if (!TOKEN.test(name)) throw new PlanError(where, 'is not a valid header name');
      if (MANAGED_HEADERS.has(name.toLowerCase())) throw new PlanError(where, 'is managed by the mock and cannot be set');
      if (typeof v !== 'string' || /[\r\n]/.test(v)) throw new PlanError(where, 'must be a single-line string');
    }
  }
  return value as Fault;
}

function checkFaultList(value: unknown, path: string): Fault[] {
  if (!Array.isArray(value)) throw new PlanError(path, 'must be an array of faults');
  return value.map((f, i) => checkFault(f, `${path}[${i}]`));
}

/** Validates an untrusted plan; throws `PlanError` naming the first bad field. Returns a private copy. */
export function validatePlan(value: unknown): FaultPlan {
  if (!isObject(value)) throw new PlanError('', 'must be a JSON object');
  const known = ['default', 'script', 'failure_rate', 'mix', 'for_ms', 'models'];
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new PlanError(key, `is not a plan field (known: ${known.join(', ')})`);
  }
  const plan: FaultPlan = {};
  if (value.default !== undefined) plan.default = checkFault(value.default, 'default');
  if (value.script !== undefined) plan.script = checkFaultList(value.script, 'script');
  if (value.models !== undefined) plan.models = checkFault(value.models, 'models');
  if (value.mix !== undefined) plan.mix = checkFaultList(value.mix, 'mix');
  if (value.failure_rate !== undefined) {
    const rate = value.failure_rate;
    if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw new PlanError('failure_rate', 'must be a number from 0 to 1');
    if (rate > 0 && !plan.mix?.length) throw new PlanError('mix', 'must list at least one fault when failure_rate > 0');
    plan.failure_rate = rate;
  }
  if (value.for_ms !== undefined) {
    const problem = nonNegative(value.for_ms);
    if (problem) throw new PlanError('for_ms', problem);
    plan.for_ms = value.for_ms as number;
  }
  return structuredClone(plan);
}
