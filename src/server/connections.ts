import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { GatewayError } from '../errors.js';
import { closeWhenFlushed } from './linger.js';
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
