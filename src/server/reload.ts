/**
 * Config reload without a restart. An engine is everything built from one config (routes, pipeline, app); the
 * gateway holds the current one in a single reference that each request reads once, when it starts, so a request
 * finishes on the engine it started on while new ones go to the new engine. What must outlive an engine is handed
 * on: the per-deployment state of the deployments a reload did not change (see Deployments.carryTo), the metrics,
 * the count of open streams, and the upstream connection pools when the new config allows (see transportReusable).
 */
import { isDeepStrictEqual } from 'node:util';
import { configChanges, type ConfigChanges, noChanges } from '../config/diff.js';
import { ConfigError } from '../config/errors.js';
import type { Config } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { createTracing, type Tracing } from '../observability/tracing.js';
import { Prober, registerProbeGauges } from '../pipeline/probes.js';
import { Deployments } from '../routing/deployments.js';
import { providerSecretValues, Secrets } from '../secrets.js';
import { Transport } from '../transport/index.js';
import { type App, createApp } from './app.js';
import type { Exchange } from './adapters/exchange.js';
import { deploymentsReport } from './admin.js';
import { openAIErrorBody } from './dialects/openai/dialect.js';

export type ReloadResult =
  /** The new config serves every request from now on. */
  | { status: 'reloaded'; changes: ConfigChanges }
  /** Nothing to swap: the file says what the running config says (`restart` may list `server.*` keys). */
  | { status: 'unchanged'; changes: ConfigChanges }
  /** The file is not a valid config: the running one stays. */
  | { status: 'rejected'; error: ConfigError }
  /** Not now: the gateway is shutting down, or it has no config file to reload from. */
  | { status: 'refused'; reason: string };

/** What `POST /admin/reload` answers: a status and a JSON body. */
export interface AdminAnswer {
  status: number;
  body: string;
}

export interface EnginesOptions {
  logger: Logger;
  /** Where each engine's transport reads HTTPS_PROXY / HTTP_PROXY / NO_PROXY; defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Reads the config again (a file, with the command line's overrides); throws a ConfigError when it is invalid. */
  source?: () => Config;
  /** The gateway made `logger` itself: a reload sets its level, and its scrub learns each new secret. */
  ownLogger?: LogSecrets;
  /**
   * Whether `POST /admin/reload` is served: only while the listener is on a loopback address (no admin key yet).
   * Without it (the library) the route does not exist.
   */
  adminAllowed?: () => boolean;
}

interface Engine {
  readonly config: Config;
  readonly app: App;
  readonly deployments: Deployments;
  readonly transport: Transport;
  /** Its tracer provider (undefined: tracing off); shared by engines whose `tracing` section is the same. */
  readonly tracing: Tracing | undefined;
  /** The synthetic probes of this engine's deployments: stopped when the engine is replaced, drains or closes. */
  readonly prober: Prober;
  /** Requests that started on this engine and have not finished. */
  inflight: number;
}

/**
 * The current engine and those still finishing requests, seen from the server as one App: `handle` picks the
 * current engine, `startDraining` and `stopAll` reach every engine with requests in flight.
 */
export class Engines {
  readonly app: App;
  private current: Engine;
  /** Replaced engines with requests still running on them. */
  private readonly retired = new Set<Engine>();
  /** Engines using each transport: it is closed when the last one is done. */
  private readonly users = new Map<Transport, number>();
  private readonly metrics = new Metrics();
  private readonly streams = { open: 0 };
  private draining = false;

  constructor(
    config: Config,
    private readonly options: EnginesOptions,
  ) {
    this.current = this.build(config, new Deployments(config), this.transport());
    registerProbeGauges(this.metrics.registry, () => this.current.prober.results());
    this.app = {
      handle: (ex) => this.handle(ex),
      startDraining: () => {
        this.draining = true;
        this.current.prober.stop();
        for (const e of this.live()) e.app.startDraining();
      },
      stopAll: async () => {
        await Promise.all(this.live().map((e) => e.app.stopAll()));
      },
    };
  }

  /** The config requests are served with now. */
  get config(): Config {
    return this.current.config;
  }

  /**
   * Reads the config again (from `source`, else the one the engines were made with) and, when it is valid and
   * differs, serves new requests with it. Logs the outcome.
   */
  reload(source = this.options.source): ReloadResult {
    const { logger } = this.options;
    if (this.draining) return this.refuse('the gateway is shutting down');
    if (!source) return this.refuse('the gateway was started without a config file');
    let next: Config;
    try {
      next = source();
    } catch (err) {
      const error = err instanceof ConfigError ? err : new ConfigError([err instanceof Error ? err.message : String(err)]);
      logger.error({ issues: error.issues }, `config reload failed, the running config stays: ${error.message}`);
      return { status: 'rejected', error };
    }
    // Before anything is logged about it: the new keys are secrets from now on.
    this.options.ownLogger?.add(next);
    const running = this.current.config;
    const changes = configChanges(running, next);
    if (changes.restart.length > 0) {
      logger.warn(
        { keys: changes.restart },
        `config reload: ${changes.restart.join(', ')} changed; the listener keeps the running server settings until a restart`,
      );
      next = Object.freeze({ ...next, server: running.server });
    }
    if (noChanges({ ...changes, restart: [] })) {
      logger.info('config reload: nothing changed');
      return { status: 'unchanged', changes };
    }
    const old = this.current;
    try {
      const deployments = old.deployments.carryTo(next, changes.deployments.unchanged);
      this.current = this.build(next, deployments, transportReusable(running, next) ? old.transport : this.transport());
    } catch (err) {
      // Not expected of a validated config; but a SIGHUP must never take the running gateway down with it.
      const error = new ConfigError([`the gateway could not be built from it: ${err instanceof Error ? err.message : String(err)}`]);
      logger.error({ err }, `config reload failed, the running config stays: ${error.message}`);
      return { status: 'rejected', error };
    }
    old.prober.stop();
    if (old.inflight === 0) this.retire(old);
    else this.retired.add(old);
    if (this.options.ownLogger) logger.level = next.logging.level;
    logger.info({ changes: summary(changes) }, 'config reloaded');
    return { status: 'reloaded', changes };
  }

  /** `POST /admin/reload`. */
  admin(): AdminAnswer {
    if (!this.options.adminAllowed?.()) return adminRefused('POST /admin/reload', '; send the process SIGHUP instead');
    const result = this.reload();
    switch (result.status) {
      case 'reloaded':
      case 'unchanged':
        return { status: 200, body: JSON.stringify({ status: result.status, changed: summary(result.changes) }) };
      case 'rejected':
        return {
          status: 400,
          body: JSON.stringify({
            error: {
              message: result.error.message,
              type: 'invalid_request_error',
              code: 'invalid_config',
              param: null,
              issues: result.error.issues,
            },
          }),
        };
      case 'refused':
        return gatewayAnswer(new GatewayError('unavailable', `Cannot reload: ${result.reason}`, { code: 'reload_unavailable' }));
    }
  }

  /** `GET /admin/deployments`: each deployment's breaker, errors, latency, quota and last probe (admin.ts). */
  deployments(): AdminAnswer {
    if (!this.options.adminAllowed?.()) return adminRefused('GET /admin/deployments', '');
    const { config, deployments } = this.current;
    return { status: 200, body: JSON.stringify(deploymentsReport(config, deployments, Date.now())) };
  }

  /** Closes the upstream pools of every engine (after the server's drain). */
  async close(): Promise<void> {
    for (const e of this.live()) e.prober.stop();
    const tracings = new Set(this.live().map((e) => e.tracing));
    const transports = [...this.users.keys()];
    this.users.clear();
    this.retired.clear();
    await Promise.all(transports.map((t) => t.close()));
    // The spans of every request are ended by now (after the drain): exported, within the exporter's timeout.
    await Promise.all([...tracings].map((t) => t?.shutdown()));
  }

  private async handle(ex: Exchange): Promise<void> {
    const engine = this.current;
    engine.inflight++;
    try {
      await engine.app.handle(ex);
    } finally {
      engine.inflight--;
      if (engine !== this.current && engine.inflight === 0 && this.retired.delete(engine)) this.retire(engine);
    }
  }

  private build(config: Config, deployments: Deployments, transport: Transport): Engine {
    const { logger } = this.options;
    const tracing = this.tracingFor(config);
    const app = createApp({
      config,
      transport,
      logger,
      metrics: this.metrics,
      deployments,
      streams: this.streams,
      tracing,
      ...(this.options.adminAllowed ? { reload: () => this.admin(), adminDeployments: () => this.deployments() } : {}),
    });
    if (this.draining) app.startDraining();
    this.users.set(transport, (this.users.get(transport) ?? 0) + 1);
    const prober = new Prober({ config, upstream: transport, deployments, logger });
    if (!this.draining) prober.start();
    return { config, app, deployments, transport, tracing, prober, inflight: 0 };
  }

  /**
   * The tracer provider for a config: the running engine's while `tracing` is unchanged (its batches and counters go
   * on); else a new one, and the old one is flushed and shut down once no engine uses it (see retire).
   */
  private tracingFor(config: Config): Tracing | undefined {
    const running = this.current as Engine | undefined; // undefined while the first engine is built
    if (running && isDeepStrictEqual(running.config.tracing, config.tracing)) return running.tracing;
    return createTracing(config.tracing, { logger: this.options.logger, registry: this.metrics.registry });
  }

  private transport(): Transport {
    return new Transport(this.options.env ? { env: this.options.env } : {});
  }

  /** An engine with nothing left to do: its transport is closed unless a newer engine uses it. */
  private retire(engine: Engine): void {
    const { tracing } = engine;
    if (tracing && !this.live().some((e) => e.tracing === tracing)) void tracing.shutdown();
    const users = (this.users.get(engine.transport) ?? 1) - 1;
    if (users > 0) {
      this.users.set(engine.transport, users);
      return;
    }
    this.users.delete(engine.transport);
    void engine.transport.close();
  }

  private live(): Engine[] {
    return [this.current, ...this.retired];
  }

  private refuse(reason: string): ReloadResult {
    this.options.logger.warn(`config reload refused: ${reason}`);
    return { status: 'refused', reason };
  }
}

/**
 * Whether the new engine may use the running one's upstream pools. A pool is made per provider name and connect
 * timeout, and holds only one provider setting: its egress proxy (origins, keys and headers go with each request).
 * So the pools stay — warm connections, no new TLS handshakes after a reload — unless a provider kept its name and
 * changed its proxy; then the new engine gets its own pools and the old ones close when the old engine's last
 * request has finished.
 */
export function transportReusable(running: Config, next: Config): boolean {
  for (const [name, provider] of Object.entries(next.providers)) {
    const before = running.providers[name];
    if (before && before.proxy !== provider.proxy) return false;
  }
  return true;
}

/** The changes as reported: deployments that kept their state are counted, not listed. */
export function summary(c: ConfigChanges): Record<string, unknown> {
  const { unchanged, ...deployments } = c.deployments;
  return { models: c.models, deployments: { ...deployments, kept: unchanged.length }, settings: c.settings, restart: c.restart };
}

/** An admin route asked over a listener that is not loopback-only: 403 `admin_loopback_only`. */
function adminRefused(route: string, advice: string): AdminAnswer {
  return gatewayAnswer(
    new GatewayError('bad_request', `${route} is served only when the gateway listens on a loopback address (server.host)${advice}`, {
      status: 403,
      code: 'admin_loopback_only',
    }),
  );
}

function gatewayAnswer(err: GatewayError): AdminAnswer {
  return { status: err.status, body: openAIErrorBody(err) };
}

/**
 * The scrub of the gateway's own log lines, growing with each reload: every secret any loaded config held. An old
 * key is still a secret, and requests still running on the old engine may log with it.
 */
export class LogSecrets extends Secrets {
  private readonly values = new Set<string>();
  private inner: Secrets = Secrets.none;

  constructor(config: Config) {
    super([]);
    this.add(config);
  }

  add(config: Config): void {
    const before = this.values.size;
    for (const v of Object.values(config.providers).flatMap(providerSecretValues)) this.values.add(v);
    if (this.values.size !== before) this.inner = new Secrets(this.values);
  }

  override get size(): number {
    return this.inner.size;
  }

  override scrubUntrusted(text: string): string {
    return this.inner.scrubUntrusted(text);
  }

  override scrubExact(text: string): string {
    return this.inner.scrubExact(text);
  }
}


/** A listening address only this machine can reach: 127.0.0.0/8, ::1, or an IPv4-mapped 127.x. */
export function isLoopback(address: string): boolean {
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}
