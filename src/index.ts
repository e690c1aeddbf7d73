import { loadConfigFile, resolveConfig } from './config/index.js';
import type { Config } from './config/types.js';
import { type Logger, silentLogger } from './observability/logger.js';
import { createFetch } from './server/adapters/fetch.js';
import { assembleGateway } from './server/gateway.js';
import type { ReloadResult } from './server/reload.js';

export type { Config } from './config/types.js';
export { ConfigError, loadConfigFile, parseConfig, resolveConfig } from './config/index.js';
export { GatewayError, type ErrorKind } from './errors.js';
export { startServer, type RunningServer } from './server/serve.js';
export type { ReloadResult } from './server/reload.js';
export type { ConfigChanges } from './config/diff.js';
export { startMock, type MockServer, type MockOptions, type FaultPlan, type Fault } from './mock/index.js';

export interface Gateway {
  /**
   * The gateway's HTTP API in-process, as a WHATWG fetch. Hand it to an SDK:
   * `new OpenAI({ baseURL: 'http://lifeline.local/v1', apiKey: 'unused', fetch: gateway.fetch })`.
   */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** The config new requests are served with (a reload replaces it). */
  readonly config: Config;
  /**
   * Serves new requests with a new config: `config` (a path or an object, as `createGateway` takes), else the file
   * the gateway was created from, read again. Requests in flight finish on the config they started with; an
   * invalid config changes nothing (`status: 'rejected'`, with the error).
   */
  reload(config?: string | Record<string, unknown>): ReloadResult;
  /** Closes upstream connections and flushes logs. */
  close(): Promise<void>;
}

export interface GatewayOptions {
  /**
   * A pino logger for the request lines and the gateway's own messages. Without one the gateway logs nothing (the
   * app's stdout is the app's), unless the config sets `logging.level` itself: then JSON lines on stdout at that
   * level, as `lifeline serve` writes them.
   */
  logger?: Logger;
  /**
   * The environment: `${VAR}` interpolation in the config, and the egress proxy (HTTPS_PROXY / HTTP_PROXY /
   * NO_PROXY) for providers without a `proxy` of their own. Defaults to process.env.
   */
  env?: Record<string, string | undefined>;
}

/**
 * Lifeline as a library: the same engine as `lifeline serve` (server/gateway.ts), without a socket.
 * `config` is a path to a YAML file, or an object in the YAML's shape.
 */
export function createGateway(config: string | Record<string, unknown>, options: GatewayOptions = {}): Gateway {
  const { env } = options;
  const read = (c: string | Record<string, unknown>) => (): Config => (typeof c === 'string' ? loadConfigFile(c, env) : resolveConfig(c, env));
  const resolved = read(config)();
  const gateway = assembleGateway(resolved, {
    // Quiet unless asked: a logger passed in, or a config that sets logging.level (then the gateway's own).
    ...(options.logger || !resolved.logging.level_set ? { logger: options.logger ?? silentLogger() } : {}),
    ...(env ? { env } : {}),
    ...(typeof config === 'string' ? { source: read(config) } : {}),
  });
  return {
    fetch: createFetch(gateway.app),
    get config() {
      return gateway.config;
    },
    reload: (next) => gateway.reload(next === undefined ? undefined : read(next)),
    close: () => gateway.close(),
  };
}
