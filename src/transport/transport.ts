import { Agent, type Dispatcher, EnvHttpProxyAgent, ProxyAgent } from 'undici';
import type { ProviderConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { SendOptions, Upstream, UpstreamResponse } from '../types.js';
import { preciseConnector, proxyTimeoutOptions, type TlsOptions, tlsBuildOptions } from './connector.js';
import { UpstreamCall } from './upstream-call.js';

/** The only upstream I/O of the gateway: pooled keep-alive connections, timeouts, egress proxies. */

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

/** The real `Upstream` (src/types.ts): what the pipeline sends through. */
export class Transport implements Upstream {
  private readonly dispatchers = new Map<string, Dispatcher>();
  private readonly envProxy: EnvProxy | undefined;
  private readonly tls: TlsOptions;

  constructor(options: TransportOptions = {}) {
    this.envProxy = proxyFromEnv(options.env ?? process.env);
    this.tls = options.tls ?? {};
  }

  send(opts: SendOptions): Promise<UpstreamResponse> {
    const { request, provider, timeouts, signal, label: what } = opts;
    if (signal.aborted) return Promise.reject(abortReason(signal.reason));
    const url = splitUrl(request.url);
    return new Promise<UpstreamResponse>((resolve, reject) => {
      const call = new UpstreamCall(timeouts, what, signal, (err, reason) => mapTransportError(err, reason, what), { resolve, reject });
      try {
        this.dispatcherFor(provider, timeouts.connect_ms).dispatch(
          {
            origin: url.origin,
            path: url.path,
            method: request.method,
            headers: request.headers,
            body: request.body,
            // Our watchdog owns these; undici's own stay as a generous backstop.
            headersTimeout: timeouts.first_byte_ms + 5000,
            bodyTimeout: Math.max(timeouts.first_byte_ms, timeouts.idle_ms) + 5000,
          },
          call,
        );
      } catch (err) {
        call.onError(err as Error);
      }
    });
  }

  private dispatcherFor(provider: ProviderConfig, connectMs: number): Dispatcher {
    const key = `${provider.name}\u0000${connectMs}`;
    let d = this.dispatchers.get(key);
    if (!d) {
      const connect = preciseConnector(connectMs, true, this.tls);
      // Through a proxy: `proxyTls` is the hop to the proxy, `requestTls` the TLS inside the tunnel. connect_ms
      // covers the whole way (proxyTimeoutOptions); undici's own timeouts on the two hops stay as a backstop.
      const tunnel = {
        proxyTls: { timeout: connectMs + 5000, noDelay: true },
        requestTls: { ...tlsBuildOptions(this.tls), allowH2: true, timeout: connectMs + 5000 },
        ...proxyTimeoutOptions(connectMs, connect),
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
