import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Config } from '../config/types.js';
import { createLogger, flushLogger, type Logger } from '../observability/logger.js';
import { configSecrets } from '../secrets.js';
import { Transport } from '../transport/index.js';
import { createApp } from './app.js';
import { nodeExchange } from './node-adapter.js';

export interface RunningServer {
  /** e.g. `http://127.0.0.1:4000` */
  readonly url: string;
  readonly port: number;
  readonly logger: Logger;
  /** Requests and streams not yet finished. */
  inflight(): number;
  /**
   * Graceful stop: refuse new connections, let in-flight requests and streams finish (up to
   * `server.drain_timeout_ms`), then close everything. Resolves when done; safe to call twice.
   */
  shutdown(): Promise<void>;
}

export interface ServeOptions {
  logger?: Logger;
}

export async function startServer(config: Config, options: ServeOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logging, undefined, configSecrets(config));
  const transport = new Transport();
  const app = createApp({ config, transport, logger });
  let inflight = 0;
  let idle: (() => void) | undefined;
  const onClose = (): void => {
    inflight--;
    if (inflight === 0) idle?.();
  };

  const server: Server = createServer({ noDelay: true, keepAliveTimeout: 65_000 }, (req, res) => {
    inflight++;
    void app.handle(nodeExchange(req, res, onClose));
  });
  server.headersTimeout = 30_000;
  server.requestTimeout = 0; // streams may legitimately last minutes; the pipeline's deadline bounds them
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info({ url, models: Object.keys(config.models) }, 'lifeline listening');

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ inflight }, 'draining');
      app.startDraining();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inflight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, config.server.drain_timeout_ms);
          idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      for (const s of sockets) s.destroy();
      await closed;
      await transport.close();
      logger.info('stopped');
      await flushLogger(logger);
    })();
    return stopping;
  };

  return { url, port: address.port, logger, inflight: () => inflight, shutdown };
}
