/**
 * The mock's HTTP server: routes, control endpoints, request records and connection lifecycle. What to answer
 * comes from the dialect (openai.ts), which fault from the plan (faults.ts), how to play it out from respond.ts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { messagesAnswer } from './dialects/anthropic/answers.js';
import { converseAnswer } from './dialects/bedrock.js';
import { defaultReply } from './content.js';
import { type FaultPlan, FaultSchedule, PlanError, plannedOutcome, validatePlan } from './faults.js';
import { InvalidRequest, type MockContext } from './dialects/dialect.js';
import { DIALECT_ROUTES } from './dialects/index.js';
import { chatAnswer, errorBody } from './dialects/openai/answers.js';
import { deliver, type Exchange, type Reply } from './respond.js';
import { type MockRequestRecord, type MockStats, RequestLog } from './stats.js';

export interface MockOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Default 1; the same seed and the same requests give the same faults (and the same default reply). */
  seed?: number;
  /** A fixed answer text; default: a deterministic ~12-word sentence chosen by the seed. */
  reply?: string;
  plan?: FaultPlan;
  /** How many request records to keep (default 1000); counters cover all requests. */
  maxRecords?: number;
}

/** The request shapes `MockServer.answerFor` reads. */
export type MockDialect = 'openai' | 'anthropic' | 'bedrock';

const ANSWERS: Record<MockDialect, (body: unknown, reply: string) => { text: string | null }> = {
  openai: chatAnswer,
  anthropic: messagesAnswer,
  bedrock: converseAnswer,
};

export interface MockServer {
  /** Base URL including `/v1`, e.g. `http://127.0.0.1:PORT/v1`: what an OpenAI-type provider's base_url points at. */
  url: string;
  /** `http://127.0.0.1:PORT`, for dialects with other path prefixes (Gemini `/v1beta`, Bedrock `/model/…`). */
  origin: string;
  port: number;
  stats(): MockStats;
  /** Replaces the plan (throws `PlanError` if invalid); the script restarts and the PRNG is reseeded. */
  setPlan(plan: FaultPlan): void;
  /** Clears stats; the plan goes back to the start options' plan; the PRNG is reseeded. */
  reset(): void;
  /**
   * The text the mock answers for this request body ('' when the answer is a tool call): `reply`, cut to the
   * body's max tokens, or its continuation after an assistant prefill (see `continueReply`). `dialect` says
   * how to read the body, as the route of that dialect would (default `openai`: chat completions, where only a
   * trailing assistant message with `prefix: true` is a prefill; `anthropic`: Messages, where any trailing
   * assistant message is; `bedrock`: Converse, likewise). A body the gateway receives is OpenAI-shaped, whatever
   * dialect its upstream speaks.
   */
  answerFor(body: unknown, dialect?: MockDialect): string;
  /** Closes, destroying hung and stalled connections, so it never hangs. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;
/**
 * Longer than any client's idle keep-alive (undici 4 s, Node agents 5 s, most SDKs ≤ 60 s): the mock must never
 * close a socket the client is about to reuse — that race would look like an unscripted connection fault.
 */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;


type BodyResult = { text: string } | { tooLarge: true } | null;

/** The whole request body; null if the client went away first. */
function readBody(req: IncomingMessage, signal: AbortSignal): Promise<BodyResult> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    const done = (result: BodyResult) => {
      signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const onAbort = () => done(null);
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('data', (part: Buffer) => {
      size += part.length;
      if (size <= MAX_BODY_BYTES) parts.push(part);
    });
    req.on('end', () => done(size > MAX_BODY_BYTES ? { tooLarge: true } : { text: Buffer.concat(parts).toString('utf8') }));
    req.on('error', () => done(null));
  });
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function sendJson(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startMock(options: MockOptions = {}): Promise<MockServer> {
  const seed = options.seed ?? 1;
  const host = options.host ?? '127.0.0.1';
  const startPlan = validatePlan(options.plan ?? {});
  const reply = options.reply ?? defaultReply(seed);
  const log = new RequestLog(options.maxRecords ?? 1000);
  let plan = startPlan;
  let schedule = new FaultSchedule(plan, seed);
  const sockets = new Set<Socket>();
  let connections = 0; // accepted since start or reset: shows whether clients reuse their connections
  const inflight = new Set<AbortController>();
  let closing: Promise<void> | null = null;

  const setPlan = (next: unknown) => {
    plan = validatePlan(next);
    schedule = new FaultSchedule(plan, seed);
  };

  const resetAll = () => {
    log.clear();
    connections = 0;
    plan = startPlan;
    schedule = new FaultSchedule(plan, seed);
  };

  /** `/_mock/*`: not recorded and never faulted. */
  async function control(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const noStore = { 'cache-control': 'no-store' };
    const endpoint = `${req.method} ${path}`;
    if (endpoint === 'GET /_mock/stats') return sendJson(res, 200, JSON.stringify(log.snapshot()), noStore);
    if (endpoint === 'GET /_mock/plan') return sendJson(res, 200, JSON.stringify(plan), noStore);
    if (endpoint === 'POST /_mock/reset') {
      resetAll();
      return sendJson(res, 200, JSON.stringify({ ok: true }), noStore);
    }
    if (endpoint === 'PUT /_mock/plan') {
      const body = await readBody(req, new AbortController().signal);
      if (!body) return;
      if ('tooLarge' in body) return sendJson(res, 413, errorBody(413, 'The plan is too large.'));
      const parsed = parseJson(body.text);
      if (!parsed.ok) return sendJson(res, 400, errorBody(400, 'The plan is not valid JSON.', 'invalid_json'));
      try {
        setPlan(parsed.value);
      } catch (err) {
        if (!(err instanceof PlanError)) throw err;
        return sendJson(res, 400, errorBody(400, err.message, 'invalid_plan', err.field || null));
      }
      return sendJson(res, 200, JSON.stringify({ ok: true, plan }), noStore);
    }
    const known = ['/_mock/stats', '/_mock/plan', '/_mock/reset'].includes(path);
    const status = known ? 405 : 404;
    return sendJson(res, status, errorBody(status, `${known ? 'Method not allowed' : 'No control endpoint'}: ${endpoint}`));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://mock');
    const path = url.pathname;
    if (path.startsWith('/_mock/')) return control(req, res, path);

    const record = log.begin({ method, path, headers: { ...req.headers } });
    const controller = new AbortController();
    inflight.add(controller);
    let endedByMock = false;
    const socket = req.socket;
    const x: Exchange = {
      res,
      signal: controller.signal,
      headers: { 'x-request-id': `mock-req-${record.n}` },
      record,
      destroy(how) {
        endedByMock = true;
        record.finishedAt = Date.now();
        if (how === 'reset') socket.resetAndDestroy();
        else socket.destroy();
      },
    };
    res.on('finish', () => {
      record.finishedAt ??= Date.now();
    });
    res.on('close', () => {
      inflight.delete(controller);
      if (!res.writableFinished && !endedByMock && !closing) record.closedByClientAt = Date.now();
      controller.abort(); // ends every pending wait of this request, so no timer outlives it
    });

    const answerPlain = (status: number, body: string) => {
      log.decide(record, null, status < 400 ? 'ok' : 'status');
      record.status = status;
      sendJson(res, status, body, x.headers);
    };

    const route = DIALECT_ROUTES.find((r) => r.path.test(path) && r.method === method);
    if (!route) {
      const known = DIALECT_ROUTES.find((r) => r.path.test(path));
      return known
        ? answerPlain(405, known.errorBody(405, `Method ${method} is not allowed for ${path}.`, 'method_not_allowed'))
        : answerPlain(404, errorBody(404, `Invalid URL (${method} ${path}).`, 'unknown_url'));
    }
    const ctx: MockContext = { n: record.n, reply, match: route.path.exec(path)!, query: url.searchParams, headers: req.headers };
    Object.assign(x.headers, route.responseHeaders?.(ctx));
    if (route.kind === 'plain') return answerPlain(200, route.body(ctx));

    const raw = await readBody(req, controller.signal);
    if (!raw) return;
    if ('tooLarge' in raw) return answerPlain(413, errorBody(413, `The request body exceeds ${MAX_BODY_BYTES} bytes.`));
    const parsed = parseJson(raw.text);
    record.body = parsed.ok ? parsed.value : raw.text;
    record.text = raw.text;
    if (!parsed.ok) {
      return answerPlain(400, route.errorBody(400, 'We could not parse the JSON body of your request.', 'invalid_json'));
    }

    let answer: Reply;
    let stream = false;
    try {
      ({ stream, reply: answer } = route.handle(parsed.value, ctx));
    } catch (err) {
      if (!(err instanceof InvalidRequest)) throw err;
      return answerPlain(err.status, route.errorBody(err.status, err.message, null, err.param));
    }
    // Only requests that reach a model consume the plan, so probes and typos don't shift a script.
    record.stream = stream;
    const fault = schedule.next();
    const outcome = plannedOutcome(fault, stream);
    log.decide(record, fault, outcome);
    await deliver(x, fault, outcome, answer, route.faults);
  }

  const server = createServer({ noDelay: true }, (req, res) => {
    res.on('error', () => {}); // a write racing the client's disconnect is expected here, not a crash
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, errorBody(500, `lifeline mock internal error: ${String(err)}`));
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  server.on('connection', (socket: Socket) => {
    socket.setNoDelay(true);
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${urlHost(host)}:${port}/v1`,
    origin: `http://${urlHost(host)}:${port}`,
    port,
    stats: () => ({ ...log.snapshot(), connections }),
    setPlan,
    reset: resetAll,
    answerFor: (body, dialect = 'openai') => ANSWERS[dialect](body, reply).text ?? '',
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of inflight) c.abort();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

export type { MockRequestRecord, MockStats };
