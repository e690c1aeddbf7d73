import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { buildConnector, Client, type Dispatcher, errors, Pool } from 'undici';

/** Extra trust for upstream TLS, e.g. a private CA in front of a self-hosted model server. */
export interface TlsOptions {
  /** PEM certificate(s) to trust. As in `tls.connect`, they replace Node's bundled roots rather than add to them. */
  ca?: SecureContextOptions['ca'];
}

/**
 * undici's own connect timeout runs on coarse timers (it fires up to ~1 s late), so a
 * `connect_ms: 300` would really be 1 s. This wraps its connector with an exact timer.
 */
export function preciseConnector(timeoutMs: number, allowH2: boolean, tls: TlsOptions = {}): buildConnector.connector {
  // undici's timeout stays on as a backstop, well after ours.
  const base = buildConnector({ ...tlsBuildOptions(tls), allowH2, timeout: timeoutMs + 5000 });
  return (options, callback) => {
    let settled = false;
    // The connector returns its socket at runtime, though undici's types say void.
    const socket = base(options, (err, sock) => {
      settled = true;
      clearTimeout(timer);
      if (err) callback(err, null);
      else callback(null, sock!);
    }) as unknown as import('node:net').Socket;
    const timer = setTimeout(() => {
      if (settled) return;
      socket.destroy(new errors.ConnectTimeoutError(`Connect Timeout Error (${timeoutMs} ms)`));
    }, timeoutMs);
    return socket;
  };
}

/** What ProxyAgent uses of its client to the proxy: one CONNECT per tunnel, then close or destroy. */
interface ProxyClient {
  connect(params: Dispatcher.ConnectOptions): Promise<Dispatcher.ConnectData>;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

/** One attempt to reach an upstream through the proxy; the timer's means to stop whatever it is waiting on. */
interface Attempt {
  settled: boolean;
  /** The client sending this attempt's CONNECT, until the proxy has answered. */
  client: Client | undefined;
  /** The tunnel, once the proxy has answered; TLS to the upstream may still be under way on it. */
  tunnel: Socket | undefined;
}

/**
 * Options for undici's ProxyAgent (and EnvHttpProxyAgent, which hands them on) that hold the whole way to the
 * upstream to `timeoutMs`: TCP (or TLS) to the proxy, the proxy's answer to CONNECT, and TLS inside the tunnel.
 * undici times only the first and last of those, each on its own coarse timer, and the CONNECT answer not at all,
 * so a proxy that accepts and never answers held a request until its first-byte timeout (reported as such).
 *
 * ProxyAgent replaces any `connect` it is given with its own tunnelling one; `factory` is where that one can be
 * wrapped. Each attempt gets an AbortSignal (never aborted: ProxyAgent passes it on with the CONNECT, and it is
 * how `clientFactory` finds the attempt). Each CONNECT goes on a client of its own, so a timed-out one is
 * destroyed outright: aborting a CONNECT in flight on a shared pool makes undici open one more, idle, connection
 * to the proxy. (A client is only ever the way to one tunnel: undici hands the socket over once CONNECT is answered.)
 */
export function proxyTimeoutOptions(
  timeoutMs: number,
  direct: buildConnector.connector,
): { factory: (origin: string | URL, opts: object) => Dispatcher; clientFactory: (origin: URL, opts: object) => Dispatcher } {
  const attempts = new WeakMap<AbortSignal, Attempt>();

  const clientFactory = (origin: URL, opts: object): Dispatcher => {
    const open = new Set<Client>();
    const proxy: ProxyClient = {
      async connect(params) {
        const attempt = params.signal ? attempts.get(params.signal as AbortSignal) : undefined;
        const client = new Client(origin, opts);
        open.add(client);
        if (attempt) attempt.client = client;
        try {
          const data = await client.connect({ ...params, signal: undefined });
          if (attempt?.settled) data.socket.destroy(); // answered after we gave up
          else if (attempt) attempt.tunnel = data.socket as Socket;
          return data;
        } finally {
          open.delete(client);
          if (attempt) attempt.client = undefined;
          client.close().catch(() => {}); // it holds no socket any more: the tunnel was handed over or failed
        }
      },
      // A client given up on by its attempt's timer may still be in `open` for a moment, already destroyed.
      close: async () => {
        await Promise.all([...open].map((c) => (c.destroyed ? undefined : c.close().catch(() => {}))));
      },
      destroy: async () => {
        await Promise.all([...open].map((c) => (c.destroyed ? undefined : c.destroy().catch(() => {}))));
      },
    };
    return proxy as unknown as Dispatcher;
  };

  const timed =
    (inner: buildConnector.connector): buildConnector.connector =>
    (options, callback) => {
      const key = new AbortController().signal;
      const attempt: Attempt = { settled: false, client: undefined, tunnel: undefined };
      attempts.set(key, attempt);
      const timer = setTimeout(() => {
        attempt.settled = true;
        const err = new errors.ConnectTimeoutError(`Connect Timeout Error (${timeoutMs} ms, through the proxy)`);
        attempt.client?.destroy(err).catch(() => {});
        attempt.tunnel?.destroy(err);
        callback(err, null);
      }, timeoutMs);
      inner({ ...options, signal: key } as buildConnector.Options, (err, socket) => {
        if (attempt.settled) {
          socket?.destroy(); // done after we gave up on it
          return;
        }
        attempt.settled = true;
        clearTimeout(timer);
        if (err) callback(err, null);
        else callback(null, socket!);
      });
    };

  // EnvHttpProxyAgent gives the same options to its direct Agent, whose `direct` connector keeps its own timer.
  const factory = (origin: string | URL, opts: object): Dispatcher => {
    const connect = (opts as { connect?: unknown }).connect;
    if (typeof connect !== 'function' || connect === direct) return new Pool(origin, opts);
    return new Pool(origin, { ...opts, connect: timed(connect as buildConnector.connector) });
  };
  return { factory, clientFactory };
}

/** Only the keys that are set: an explicit `ca: undefined` would still be passed on to `tls.connect`. */
export function tlsBuildOptions(tls: TlsOptions): buildConnector.BuildOptions {
  return tls.ca === undefined ? {} : { ca: tls.ca };
}
