import { buildConnector, errors } from 'undici';

/**
 * undici's own connect timeout runs on coarse timers (it fires up to ~1 s late), so a
 * `connect_ms: 300` would really be 1 s. This wraps its connector with an exact timer.
 */
export function preciseConnector(timeoutMs: number, allowH2: boolean): buildConnector.connector {
  // undici's timeout stays on as a backstop, well after ours.
  const base = buildConnector({ allowH2, timeout: timeoutMs + 5000 });
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
