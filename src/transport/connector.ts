import type { SecureContextOptions } from 'node:tls';
import { buildConnector, errors } from 'undici';

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

/** Only the keys that are set: an explicit `ca: undefined` would still be passed on to `tls.connect`. */
export function tlsBuildOptions(tls: TlsOptions): buildConnector.BuildOptions {
  return tls.ca === undefined ? {} : { ca: tls.ca };
}
