import { EventEmitter } from 'node:events';
import { Agent, type Dispatcher, EnvHttpProxyAgent, ProxyAgent } from 'undici';
import type { CancelSignal } from '../cancel.js';
import type { ProviderConfig, Timeouts } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { Headers, UpstreamRequest } from './types.js';
import { preciseConnector, type TlsOptions, tlsBuildOptions } from './connector.js';
import { Watchdog } from './watchdog.js';

/** The only upstream I/O of the gateway: pooled keep-alive connections, timeouts, egress proxies. */

export interface SendOptions {
  request: UpstreamRequest;
  provider: ProviderConfig;
  timeouts: Pick<Timeouts, 'connect_ms' | 'first_byte_ms' | 'idle_ms'>;
  /** Aborted when the request's deadline passes or its client goes away; its reason is rethrown. */
  signal: CancelSignal;
  /** Names the upstream in error messages, e.g. `Upstream openai-east/gpt-4o`. */
  label: string;
}

export interface UpstreamResponse {
  status: number;
  headers: Headers;
  /** The body, with the first-byte and idle timeouts enforced while it is read. */
  body: AsyncIterable<Buffer>;
  /** Reads the whole body as text (bounded). */
  text(): Promise<string>;
  /** Drops the response and frees its connection. Safe to call more than once. */
  discard(): void;
}

export interface TransportOptions {
  /** Where HTTPS_PROXY / HTTP_PROXY / NO_PROXY are read from (either case; upper wins). Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Trust for upstream TLS, direct or through a proxy tunnel. */
  tls?: TlsOptions;
}

/** The egress proxy settings found in an environment; `''` means none. */
export interface EnvProxy {
  httpProxy: string;
  httpsProxy: string;
  noProxy: string;
}

const MAX_BUFFERED_BODY = 64 * 1024 * 1024;

export class Transport {
  private readonly dispatchers = new Map<string, Dispatcher>();
  private readonly envProxy: EnvProxy | undefined;
  private readonly tls: TlsOptions;

  constructor(options: TransportOptions = {}) {
    this.envProxy = proxyFromEnv(options.env ?? process.env);
    this.tls = options.tls ?? {};
  }

  async send(opts: SendOptions): Promise<UpstreamResponse> {
    const { request, provider, timeouts, signal, label: what } = opts;
    const url = splitUrl(request.url);
    const ac = new Abort();
    const onOuterAbort = (): void => ac.abort(signal.reason);
    if (signal.aborted) throw abortReason(signal.reason);
    signal.addEventListener('abort', onOuterAbort, { once: true });
    const dog = new Watchdog(timeouts.first_byte_ms, timeouts.idle_ms, what, (err) => ac.abort(err));
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      dog.stop();
      signal.removeEventListener('abort', onOuterAbort);
    };
    const failure = (err: unknown): GatewayError => {
      finish();
      return mapTransportError(err, dog.error ?? (ac.aborted ? ac.reason : undefined), what);
    };

    let res: Dispatcher.ResponseData;
    try {
      res = await this.dispatcherFor(provider, timeouts.connect_ms).request({
        origin: url.origin,
        path: url.path,
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: ac,
        // Our watchdog owns these; undici's own stay as a generous backstop.
        headersTimeout: timeouts.first_byte_ms + 5000,
        bodyTimeout: Math.max(timeouts.first_byte_ms, timeouts.idle_ms) + 5000,
      });
    } catch (err) {
      throw failure(err);
    }

    const raw = res.body;
    async function* timedBody(): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of raw) {
          dog.chunk();
          yield chunk as Buffer;
          dog.wait();
        }
      } catch (err) {
        throw failure(err);
      } finally {
        finish();
        if (!raw.destroyed) raw.destroy();
      }
    }
    let iterated: AsyncGenerator<Buffer> | undefined; // made only for streams: JSON answers are read by text()
    return {
      status: res.statusCode,
      headers: res.headers as Headers,
      get body() {
        iterated ??= timedBody();
        return iterated;
      },
      // Whole bodies (JSON answers, error bodies) are read with plain events: no async iterator per response.
      text() {
        return new Promise<string>((resolve, reject) => {
          const parts: Buffer[] = [];
          let size = 0;
          const fail = (err: unknown): void => {
            cleanup();
            reject(failure(err));
          };
          const onData = (chunk: Buffer): void => {
            dog.chunk();
            dog.wait();
            size += chunk.length;
            if (size > MAX_BUFFERED_BODY) {
              fail(new GatewayError('server', `${what} sent a response larger than ${MAX_BUFFERED_BODY} bytes`));
              return;
            }
            parts.push(chunk);
          };
          const onEnd = (): void => {
            cleanup();
            finish();
            resolve(parts.length === 1 ? (parts[0] as Buffer).toString('utf8') : Buffer.concat(parts, size).toString('utf8'));
          };
          const cleanup = (): void => {
            raw.off('data', onData);
            raw.off('end', onEnd);
            // 'error' stays handled: an error emitted after we are done must not become an uncaught one.
            if (!raw.destroyed && !raw.readableEnded) raw.destroy();
          };
          raw.on('data', onData);
          raw.once('end', onEnd);
          raw.on('error', fail);
        });
      },
      discard() {
        finish();
        void iterated?.return(undefined);
        if (!raw.destroyed) raw.destroy();
      },
    };
  }

  private dispatcherFor(provider: ProviderConfig, connectMs: number): Dispatcher {
    const key = `${provider.name}\u0000${connectMs}`;
    let d = this.dispatchers.get(key);
    if (!d) {
      const connect = preciseConnector(connectMs, true, this.tls);
      // Through a proxy: `proxyTls` is the hop to the proxy, `requestTls` the TLS inside the tunnel.
      const tunnel = {
        proxyTls: { timeout: connectMs, noDelay: true },
        requestTls: { ...tlsBuildOptions(this.tls), allowH2: true, timeout: connectMs },
        keepAliveTimeout: 30_000,
        allowH2: true,
      };
      // Every value is passed explicitly, '' included: undici would otherwise fall back to process.env.
      if (provider.proxy) d = new ProxyAgent({ uri: provider.proxy, ...tunnel });
      else if (this.envProxy) d = new EnvHttpProxyAgent({ ...this.envProxy, ...tunnel, connect });
      else d = new Agent({ connect, keepAliveTimeout: 30_000, allowH2: true });
      this.dispatchers.set(key, d);
    }
    return d;
  }

  async close(): Promise<void> {
    const all = [...this.dispatchers.values()];
    this.dispatchers.clear();
    await Promise.all(all.map((d) => d.close().catch(() => d.destroy())));
  }
}

/** HTTPS_PROXY / HTTP_PROXY / NO_PROXY from `env`, upper case before lower; undefined when no proxy is set. */
export function proxyFromEnv(env: Record<string, string | undefined>): EnvProxy | undefined {
  const read = (name: string): string => env[name.toUpperCase()] || env[name] || '';
  const proxy = { httpProxy: read('http_proxy'), httpsProxy: read('https_proxy'), noProxy: read('no_proxy') };
  return proxy.httpProxy || proxy.httpsProxy ? proxy : undefined;
}

/**
 * The per-attempt abort handle undici is given. undici takes an EventEmitter as well as an AbortSignal, and an
 * emitter is several times cheaper to make than an AbortController (measured: AbortSignal creation and its
 * listeners were ~6 % of the gateway's CPU per request).
 */
class Abort extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

/** origin and path of an upstream URL; the few distinct URLs a gateway calls are parsed once. */
const urls = new Map<string, { origin: string; path: string }>();

function splitUrl(text: string): { origin: string; path: string } {
  let url = urls.get(text);
  if (!url) {
    const parsed = new URL(text);
    url = { origin: parsed.origin, path: parsed.pathname + parsed.search };
    if (urls.size >= 1024) urls.clear();
    urls.set(text, url);
  }
  return url;
}

function abortReason(reason: unknown): GatewayError {
  return reason instanceof GatewayError
    ? reason
    : new GatewayError('connection', 'The request was aborted', { code: 'aborted', retryable: false });
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'HPE_INVALID_CONSTANT',
  'UND_ERR_PRX_TLS',
]);

/** undici / socket errors → GatewayError. `reason` is why we aborted, if we did. */
export function mapTransportError(err: unknown, reason: unknown, what: string): GatewayError {
  if (reason !== undefined) return abortReason(reason);
  if (err instanceof GatewayError) return err;
  const code = errorCode(err);
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new GatewayError('timeout', `${what}: connecting timed out (connect timeout)`, { code: 'connect_timeout', cause: err });
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT') {
    return new GatewayError('timeout', `${what} sent no response headers in time`, { code: 'first_byte_timeout', cause: err });
  }
  if (code === 'UND_ERR_BODY_TIMEOUT') {
    return new GatewayError('timeout', `${what} stalled mid-response`, { code: 'idle_timeout', cause: err });
  }
  const label = code && (CONNECTION_CODES.has(code) || code.startsWith('E') || code.startsWith('HPE_')) ? code : 'error';
  return new GatewayError('connection', `${what}: connection failed (${label})`, { code: 'upstream_connection', cause: err });
}

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 3 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
