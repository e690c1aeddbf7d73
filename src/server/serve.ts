import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config, ServerConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { nodeExchange } from './adapters/node.js';
import type { App } from './app.js';
import { type Connections, guardConnections } from './connections.js';
import { type AssembledGateway, assembleGateway } from './gateway.js';
import { FLUSH_GRACE_MS, isLingering } from './linger.js';
import { isLoopback, type ReloadResult } from './reload.js';

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
  /** Where the transport reads HTTPS_PROXY / HTTP_PROXY / NO_PROXY; defaults to process.env. */
  env?: Record<string, string | undefined>;
}

/**
 * The gateway as a server: the assembly (gateway.ts) behind a node:http listener, with its connection cap
 * (connections.ts), lingering closes (linger.ts) and a graceful shutdown.
 */
export async function startServer(config: Config, options: ServeOptions = {}): Promise<RunningServer> {
  const s = config.server;
  let loopback = false;
  const gateway = assembleGateway(config, {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.reloadFrom ? { source: options.reloadFrom } : {}),
    adminAllowed: () => loopback,
  });
  const { logger } = gateway;
  const server = httpServer(s);
  const connections = guardConnections(server, s, logger);
  const requests = serveRequests(server, gateway.app, s, connections);

  const address = await listen(server, s);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  loopback = isLoopback(address.address);
  logger.info({ url, models: Object.keys(config.models), max_connections: connections.max }, 'lifeline listening');

  let stopping: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    logger,
    inflight: () => requests.count,
    connections: () => connections.open(),
    shutdown: () => (stopping ??= stop({ server, gateway, requests, connections, drainMs: s.drain_timeout_ms })),
    reload: () => gateway.reload(),
  };
}

function httpServer(s: ServerConfig): Server {
  const server = createServer({
    noDelay: true,
    keepAliveTimeout: s.keep_alive_timeout_ms,
    headersTimeout: s.header_timeout_ms,
    // A backstop for bodies the app does not read (its own body timeout answers 408 first).
    requestTimeout: s.header_timeout_ms + s.body_timeout_ms + s.linger_ms + FLUSH_GRACE_MS,
    // How often node looks for connections past those two: a tenth of the header timeout, at most once a second.
    connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(s.header_timeout_ms / 10))),
  });
  // A client may half-close once its request is sent and still wait for the answer (node's default ends the
  // connection at once, and the answer is lost).
  (server as { httpAllowHalfOpen?: boolean }).httpAllowHalfOpen = true;
  return server;
}

/** Hands each request to the app as an exchange, and counts those not yet finished. */
function serveRequests(server: Server, app: App, s: ServerConfig, connections: Connections): InflightCount {
  const linger = { ms: s.linger_ms, bytes: s.linger_bytes };
  const requests = new InflightCount();
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    // A connection already answered for the last time (a 413, a 503 over the cap): what it sends is dropped.
    if (isLingering(req.socket)) return void req.resume();
    connections.noteRequest(req.socket, res);
    requests.started();
    void app.handle(nodeExchange(req, res, requests.finished, linger));
  };
  server.on('request', onRequest);
  // `Expect: 100-continue`: a body declared over the limit is refused before the client sends it.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (!(declared > s.max_body_bytes)) res.writeContinue();
    onRequest(req, res);
  });
  return requests;
}

/** Requests and streams not yet finished, and a wait for them to be. */
class InflightCount {
  private n = 0;
  private idle: (() => void) | undefined;

  get count(): number {
    return this.n;
  }

  started(): void {
    this.n++;
  }

  readonly finished = (): void => {
    this.n--;
    if (this.n === 0) this.idle?.();
  };

  /** Resolves when no request is in flight, or after `ms`. */
  settled(ms: number): Promise<void> {
    if (this.n === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.idle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

function listen(server: Server, s: ServerConfig): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(s.port, s.host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

interface Stopping {
  server: Server;
  gateway: AssembledGateway;
  requests: InflightCount;
  connections: Connections;
  drainMs: number;
}

/** The graceful stop (`RunningServer.shutdown`). */
async function stop({ server, gateway, requests, connections, drainMs }: Stopping): Promise<void> {
  const { logger, app } = gateway;
  logger.info({ inflight: requests.count, drain_timeout_ms: drainMs }, 'draining');
  // The listener stays open while the drain lasts, and so do idle keep-alive connections: a load balancer's
  // probe reads /ready 503 "draining" rather than a refused connection, and a client's next request is
  // answered 503 server_shutting_down with `Connection: close` rather than cut. (app.ts decides the answers.)
  app.startDraining();
  await requests.settled(drainMs);
  if (requests.count > 0) {
    // Out of time: what is still open ends with an explicit error, not a cut connection; its last bytes get
    // a moment to leave.
    logger.warn({ inflight: requests.count }, 'drain timeout: ending the requests still in flight');
    const stopped = app.stopAll();
    await requests.settled(FLUSH_GRACE_MS);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise((resolve) => {
      timer = setTimeout(resolve, FLUSH_GRACE_MS);
    });
    await Promise.race([stopped, late]); // (their log lines)
    clearTimeout(timer);
  }
  // Drained (or out of time): no more connections; those still open are done with.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  connections.destroyAll();
  await closed;
  logger.info('stopped');
  await gateway.close(); // the upstream pools, and the log's last lines
}
