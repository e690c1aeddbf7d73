import { readFileSync } from 'node:fs';
import { type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ServerConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { closeWhenFlushed, isLingering, lingeringClose } from './linger.js';
import { openAIErrorBody } from './dialects/openai/dialect.js';

/** `server.max_connections` when the open-files limit cannot be read, and its ceiling when it can. */
export const DEFAULT_MAX_CONNECTIONS = 8192;

/**
 * The soft limit on open files (RLIMIT_NOFILE), where it can be read cheaply (Linux: /proc/self/limits);
 * undefined elsewhere, or when unlimited.
 */
export function openFilesLimit(read: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | undefined {
  try {
    const soft = /^Max open files\s+(\d+)/m.exec(read())?.[1];
    return soft === undefined ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

/**
 * The default cap on client connections: half the open-files limit, so that each connection can also hold an
 * upstream connection (and logs, the listening socket, DNS have room), at most 8,192.
 */
export function defaultMaxConnections(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_MAX_CONNECTIONS;
  return Math.max(1, Math.min(DEFAULT_MAX_CONNECTIONS, Math.floor(limit / 2)));
}

/**
 * A whole HTTP/1.1 response, for the moments node's HTTP layer has no response object to give (a connection
 * over the cap, headers that never came): JSON in OpenAI's shape, since the client's dialect is not known.
 */
export function rawResponse(err: GatewayError): string {
  const body = openAIErrorBody(err);
  const retry = err.retryAfterMs === undefined ? '' : `retry-after: ${Math.max(1, Math.ceil(err.retryAfterMs / 1000))}\r\n`;
  return (
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\ncontent-type: application/json\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n${retry}connection: close\r\n\r\n${body}`
  );
}

export function tooManyConnections(max: number): GatewayError {
  return new GatewayError('unavailable', `The gateway is serving its limit of ${max} connections (server.max_connections); retry shortly`, {
    code: 'too_many_connections',
    retryAfterMs: 1000,
  });
}

/** What node's HTTP parser or its timers reported (`clientError`), as the answer to send, if any. */
export function clientErrorAnswer(code: string | undefined, headerTimeoutMs: number): GatewayError | undefined {
  switch (code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined; // the client is gone
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new GatewayError('bad_request', `The request was not received in time (server.header_timeout_ms: ${headerTimeoutMs} ms)`, {
        status: 408,
        code: 'request_header_timeout',
      });
    case 'HPE_HEADER_OVERFLOW':
      return new GatewayError('bad_request', 'The request headers are too large', { status: 431, code: 'headers_too_large' });
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new GatewayError('payload_too_large', 'The chunk extensions are too large', { code: 'request_too_large' });
    default:
      return new GatewayError('bad_request', 'The request is not valid HTTP/1.1', { code: 'malformed_http' });
  }
}

/**
 * Answers a connection node's HTTP layer gave up on, and closes it fully once the answer is out: node's own
 * handling (and `socket.end()`) only half-closes it, which keeps the descriptor for as long as the client keeps
 * its side open. A response already under way on it cannot be followed by another: the connection is just closed.
 */
export function answerClientError(socket: Socket, err: GatewayError | undefined): void {
  const inFlight = (socket as { _httpMessage?: unknown })._httpMessage != null; // node's response on it, if any
  if (!err || inFlight || !socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(rawResponse(err));
  closeWhenFlushed(socket);
}

/** A connection over the cap is answered and then read from this long at most, so that the client sees the 503. */
const REJECT_LINGER_MS = 1_000;
/** Past this many connections being turned away at once, more are closed without an answer: descriptors first. */
const MAX_REJECTING = 256;

/** The client connections of one listener, as `guardConnections` keeps them. */
export interface Connections {
  readonly max: number;
  /** A request came on `socket`: `res` is its connection's latest answer (see the FIN rule in guardConnections). */
  noteRequest(socket: Socket, res: ServerResponse): void;
  /** Open now, those being turned away included (each holds a file descriptor until it is closed). */
  open(): number;
  /** Closes every connection at once (the end of a shutdown). */
  destroyAll(): void;
}

/**
 * Guards a listener's connections: at most `server.max_connections` (by default half the open-files limit), those
 * over it answered 503 `too_many_connections` and closed; what node's HTTP parser rejects, answered and closed
 * fully; and a FIN from a keep-alive client with an answer pending taken as the client leaving.
 */
export function guardConnections(server: Server, s: ServerConfig, logger: Logger): Connections {
  const limit = openFilesLimit();
  const max = s.max_connections ?? defaultMaxConnections(limit);
  if (limit !== undefined && max >= limit) {
    logger.warn({ max_connections: max, open_files_limit: limit }, 'server.max_connections is not below the open-files limit');
  }
  const sockets = new Set<Socket>();
  const rejecting = new Set<Socket>();
  /** Per connection, its latest request's response, and whether that request asked for a keep-alive connection. */
  const latest = new WeakMap<Socket, { res: ServerResponse; keepAlive: boolean }>();
  server.on('connection', (socket: Socket) => {
    if (sockets.size < max) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      // A FIN while an answer is pending. From a client that asked for a one-shot connection (`Connection:
      // close`, HTTP/1.0) it is a half-close: it has said all it will say, and the answer still goes out. From a
      // keep-alive client it is the client leaving (TCP cannot tell the two apart): its request is cancelled and
      // logged 499, as nginx does it.
      socket.once('end', () => {
        const last = latest.get(socket);
        if (last?.keepAlive && !last.res.writableEnded) socket.destroy();
      });
      return;
    }
    // Over the cap: a short answer rather than a reset, unless turning connections away is itself a flood.
    if (rejecting.size >= MAX_REJECTING) {
      socket.destroy();
      return;
    }
    rejecting.add(socket);
    socket.once('close', () => rejecting.delete(socket));
    socket.on('error', () => {});
    socket.write(rawResponse(tooManyConnections(max)));
    lingeringClose(socket, { ms: Math.min(s.linger_ms, REJECT_LINGER_MS), bytes: 64 * 1024 });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (isLingering(socket)) socket.destroy();
    else answerClientError(socket, clientErrorAnswer(err.code, s.header_timeout_ms));
  });
  return {
    max,
    noteRequest(socket, res) {
      latest.set(socket, { res, keepAlive: res.shouldKeepAlive });
    },
    open: () => sockets.size + rejecting.size,
    destroyAll() {
      for (const socket of sockets) socket.destroy();
      for (const socket of rejecting) socket.destroy();
    },
  };
}
