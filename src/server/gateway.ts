/**
 * The one assembly behind both faces. From a resolved config it builds what a gateway is, whichever way requests
 * reach it: the logger (the caller's, or one of its own), the upstream transport with its egress proxies, and the
 * engines (routes, pipeline, app; see reload.ts) that a reload replaces. `startServer` (serve.ts) puts node:http
 * in front of it; `createGateway` (index.ts) a WHATWG fetch. Nothing here knows which.
 */
import type { Config } from '../config/types.js';
import { createLogger, flushLogger, type Logger } from '../observability/logger.js';
import type { App } from './app.js';
import { Engines, LogSecrets, type ReloadResult } from './reload.js';

export interface AssemblyOptions {
  /**
   * The caller's logger, which the caller configures. Without one the gateway makes its own (JSON lines on stdout
   * at `logging.level`): its level follows a reload, and its scrub learns each reloaded key.
   */
  logger?: Logger;
  /** Where the transport reads HTTPS_PROXY / HTTP_PROXY / NO_PROXY; defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Where `reload()` reads the config again when it is given none; throws a ConfigError when it is invalid. */
  source?: () => Config;
  /** `POST /admin/reload` is routed only with this, and served while it says yes (the server: a loopback listener). */
  adminAllowed?: () => boolean;
}

export interface AssembledGateway {
  /** Every request goes here: the current engine takes it; drain and stop reach every engine with work. */
  readonly app: App;
  readonly logger: Logger;
  /** The config new requests are served with. */
  readonly config: Config;
  /**
   * Reads the config again (`source`, else `AssemblyOptions.source`) and, when it is valid and differs, serves new
   * requests with it; requests in flight finish on the config they started with. A bad config changes nothing.
   */
  reload(source?: () => Config): ReloadResult;
  /** Closes the upstream connection pools of every engine and flushes the logger (after the face has drained). */
  close(): Promise<void>;
}

export function assembleGateway(config: Config, options: AssemblyOptions = {}): AssembledGateway {
  // A logger of our own learns each reloaded key; one passed in is the caller's to configure.
  const secrets = options.logger ? undefined : new LogSecrets(config);
  const logger = options.logger ?? createLogger(config.logging, undefined, secrets);
  const engines = new Engines(config, {
    logger,
    ...(options.env ? { env: options.env } : {}),
    ...(options.source ? { source: options.source } : {}),
    ...(secrets ? { ownLogger: secrets } : {}),
    ...(options.adminAllowed ? { adminAllowed: options.adminAllowed } : {}),
  });
  return {
    app: engines.app,
    logger,
    get config() {
      return engines.config;
    },
    reload: (source) => engines.reload(source),
    async close() {
      await engines.close();
      await flushLogger(logger);
    },
  };
}
