import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Config } from '../config/types.js';
import { createLogger, flushLogger, type Logger } from '../observability/logger.js';
import { Engines, isLoopback, LogSecrets, type ReloadResult } from './reload.js';
import {
  answerClientError,
  clientErrorAnswer,
  defaultMaxConnections,
  openFilesLimit,
  rawResponse,
  tooManyConnections,
} from './connections.js';
import { FLUSH_GRACE_MS, isLingering, lingeringClose } from './linger.js';
import { nodeExchange } from './adapters/node.js';

export interface RunningServer {
  /** e.g. `http://127.0.0.1:4000` */
  readonly url: string;
  readonly port: number;
  readonly logger: Logger;
  /** Requests and streams not yet finished. */
  inflight(): number;
  /** Client connections open (each holds a file descriptor until it is closed). */
  connections(): number;
  /**
   * Graceful stop. While in-flight requests and streams finish (up to `server.drain_timeout_ms`) the gateway
   * keeps listening: /health answers 200, /ready 503 `{"status":"draining"}`, and new API requests 503
   * `server_shutting_down` with `Connection: close`. Those still open at the timeout end with a
   * `server_shutting_down` error; then the listener and every connection close. Resolves when done; safe to call
   * twice.
   */
  shutdown(): Promise<void>;
  /**
   * Reads the config again (`ServeOptions.reloadFrom`) and serves new requests with it; requests in flight finish
   * on the config they started with. A bad file changes nothing. Also `POST /admin/reload` and, in `lifeline
   * serve`, SIGHUP and `--watch`.
   */
  reload(): ReloadResult;
}

export interface ServeOptions {
  logger?: Logger;
  /** Where a reload reads the config from (the file, with the command line's overrides); throws a ConfigError. */
  reloadFrom?: () => Config;
}

/** A connection over the cap is answered and then read from this long at most, so that the client sees the 503. */
const REJECT_LINGER_MS = 1_000;
/** Past this many connections being turned away at once, more are closed without an answer: descriptors first. */
const MAX_REJECTING = 256;

export async function startServer(config: Config, options: ServeOptions = {}): Promise<RunningServer> {
  // A logger of our own learns each reloaded key; one passed in is the caller's to configure.
  const secrets = options.logger ? undefined : new LogSecrets(config);
  const logger = options.logger ?? createLogger(config.logging, undefined, secrets);
  const s = config.server;
  let loopback = false;
  const engines = new Engines(config, {
    logger,
    ...(options.reloadFrom ? { source: options.reloadFrom } : {}),
    ...(secrets ? { ownLogger: secrets } : {}),
    adminAllowed: () => loopback,
  });
  const app = engines.app;
  const linger = { ms: s.linger_ms, bytes: s.linger_bytes };
  let inflight = 0;
  let idle: (() => void) | undefined;
  const onClose = (): void => {
    inflight--;
    if (inflight === 0) idle?.();
  };
  /** Per connection, its latest request's response, and whether that request asked for a keep-alive connection. */
  const latest = new WeakMap<Socket, { res: ServerResponse; keepAlive: boolean }>();
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    // A connection already answered for the last time (a 413, a 503 over the cap): what it sends is dropped.
    if (isLingering(req.socket)) return void req.resume();
    latest.set(req.socket, { res, keepAlive: res.shouldKeepAlive });
    inflight++;
    void app.handle(nodeExchange(req, res, onClose, linger));
  };

  const server: Server = createServer(
    {
      noDelay: true,
      keepAliveTimeout: s.keep_alive_timeout_ms,
      headersTimeout: s.header_timeout_ms,
      // A backstop for bodies the app does not read (its own body timeout answers 408 first).
      requestTimeout: s.header_timeout_ms + s.body_timeout_ms + s.linger_ms + FLUSH_GRACE_MS,
      // How often node looks for connections past those two: a tenth of the header timeout, at most once a second.
      connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(s.header_timeout_ms / 10))),
    },
    onRequest,
  );
  // A client may half-close once its request is sent and still wait for the answer (node's default ends the
  // connection at once, and the answer is lost).
  (server as { httpAllowHalfOpen?: boolean }).httpAllowHalfOpen = true;
  // `Expect: 100-continue`: a body declared over the limit is refused before the client sends it.
  server.on('checkContinue', (req, res) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (!(declared > s.max_body_bytes)) res.writeContinue();
    onRequest(req, res);
  });

  const limit = openFilesLimit();
  const maxConnections = s.max_connections ?? defaultMaxConnections(limit);
  if (limit !== undefined && maxConnections >= limit) {
    logger.warn({ max_connections: maxConnections, open_files_limit: limit }, 'server.max_connections is not below the open-files limit');
  }
  const sockets = new Set<Socket>();
  const rejecting = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    if (sockets.size < maxConnections) {
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
    socket.write(rawResponse(tooManyConnections(maxConnections)));
    lingeringClose(socket, { ms: Math.min(s.linger_ms, REJECT_LINGER_MS), bytes: 64 * 1024 });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (isLingering(socket)) socket.destroy();
    else answerClientError(socket, clientErrorAnswer(err.code, s.header_timeout_ms));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(s.port, s.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  loopback = isLoopback(address.address);
  logger.info({ url, models: Object.keys(config.models), max_connections: maxConnections }, 'lifeline listening');

  /** Resolves when no request is in flight, or after `ms`. */
  const settled = (ms: number): Promise<void> =>
    inflight === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ inflight, drain_timeout_ms: s.drain_timeout_ms }, 'draining');
      // The listener stays open while the drain lasts, and so do idle keep-alive connections: a load balancer's
      // probe reads /ready 503 "draining" rather than a refused connection, and a client's next request is
      // answered 503 server_shutting_down with `Connection: close` rather than cut. (app.ts decides the answers.)
      app.startDraining();
      await settled(s.drain_timeout_ms);
      if (inflight > 0) {
        // Out of time: what is still open ends with an explicit error, not a cut connection; its last bytes get
        // a moment to leave.
        logger.warn({ inflight }, 'drain timeout: ending the requests still in flight');
        const stopped = app.stopAll();
        await settled(FLUSH_GRACE_MS);
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise((resolve) => {
          timer = setTimeout(resolve, FLUSH_GRACE_MS);
        });
        await Promise.race([stopped, late]); // (their log lines)
        clearTimeout(timer);
      }
      // Drained (or out of time): no more connections; those still open are done with.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      for (const socket of rejecting) socket.destroy();
      await closed;
      await engines.close();
      logger.info('stopped');
      await flushLogger(logger);
    })();
    return stopping;
  };

  return {
    url,
    port: address.port,
    logger,
    inflight: () => inflight,
    connections: () => sockets.size + rejecting.size,
    shutdown,
    reload: () => engines.reload(),
  };
}
