import { loadConfigFile, resolveConfig } from './config/index.js';
import type { Config } from './config/types.js';
import { createLogger, flushLogger, type Logger, silentLogger } from './observability/logger.js';
import { configSecrets } from './secrets.js';
import { createApp } from './server/app.js';
import { createFetch } from './server/adapters/fetch.js';
import { Transport } from './transport/index.js';

export type { Config } from './config/types.js';
export { ConfigError, loadConfigFile, parseConfig, resolveConfig } from './config/index.js';
export { GatewayError, type ErrorKind } from './errors.js';
export { startServer, type RunningServer } from './server/serve.js';
export { startMock, type MockServer, type MockOptions, type FaultPlan, type Fault } from './mock/index.js';

export interface Gateway {
  /**
   * The gateway's HTTP API in-process, as a WHATWG fetch. Hand it to an SDK:
   * `new OpenAI({ baseURL: 'http://lifeline.local/v1', apiKey: 'unused', fetch: gateway.fetch })`.
   */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  readonly config: Config;
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
  /** Environment for `${VAR}` interpolation when `config` is not yet resolved; defaults to process.env. */
  env?: Record<string, string | undefined>;
}

/**
 * Lifeline as a library: the same engine as `lifeline serve`, without a socket.
 * `config` is a path to a YAML file, or an object in the YAML's shape.
 */
export function createGateway(config: string | Record<string, unknown>, options: GatewayOptions = {}): Gateway {
  const resolved = typeof config === 'string' ? loadConfigFile(config, options.env) : resolveConfig(config, options.env);
  const logger =
    options.logger ?? (resolved.logging.level_set ? createLogger(resolved.logging, undefined, configSecrets(resolved)) : silentLogger());
  const transport = new Transport();
  const app = createApp({ config: resolved, transport, logger });
  const fetch = createFetch(app);
  return {
    fetch,
    config: resolved,
    async close() {
      await transport.close();
      await flushLogger(logger);
    },
  };
}
