/**
 * The mock's HTTP server: options, sockets and connections, listen and close. What a request gets is decided in
 * request.ts (routes, records, the fault it draws), what to answer by its dialect (dialects/), how the fault
 * plays out by deliver.ts; what it keeps between requests is state.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { defaultReply } from './answer.js';
import { sendJson } from './body.js';
import { DIALECT_ANSWERS, type MockDialect } from './dialects/index.js';
import { errorBody } from './dialects/openai/answers.js';
import { type FaultPlan, validatePlan } from './faults.js';
import { handleRequest } from './request.js';
import { MockState } from './state.js';
import type { MockRequestRecord, MockStats } from './stats.js';

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

/**
 * Longer than any client's idle keep-alive (undici 4 s, Node agents 5 s, most SDKs ≤ 60 s): the mock must never
 * close a socket the client is about to reuse — that race would look like an unscripted connection fault.
 */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function startMock(options: MockOptions = {}): Promise<MockServer> {
  const seed = options.seed ?? 1;
  const host = options.host ?? '127.0.0.1';
  const startPlan = validatePlan(options.plan ?? {});
  const state = new MockState(seed, startPlan, options.reply ?? defaultReply(seed), options.maxRecords ?? 1000);
  const sockets = new Set<Socket>();
  let closing: Promise<void> | null = null;

  const server = createServer({ noDelay: true }, (req, res) => {
    res.on('error', () => {}); // a write racing the client's disconnect is expected here, not a crash
    handleRequest(state, req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, errorBody(500, `lifeline mock internal error: ${String(err)}`));
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  server.on('connection', (socket: Socket) => {
    socket.setNoDelay(true);
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await listen(server, options.port ?? 0, host);
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${urlHost(host)}:${port}/v1`,
    origin: `http://${urlHost(host)}:${port}`,
    port,
    stats: () => ({ ...state.log.snapshot(), connections: state.connections }),
    setPlan: (plan) => state.setPlan(plan),
    reset: () => state.reset(),
    answerFor: (body, dialect = 'openai') => DIALECT_ANSWERS[dialect](body, state.reply).text ?? '',
    close() {
      closing ??= new Promise<void>((resolve) => {
        state.closing = true;
        server.close(() => resolve());
        for (const c of state.inflight) c.abort();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

export type { MockRequestRecord, MockStats };
