import type { GatewayError } from '../errors.js';
import type { StreamEvent } from '../providers/types.js';
import type { Exchange } from './exchange.js';
import type { StreamWriter } from './ingress.js';

const HEARTBEAT = ': keep-alive\n\n';

/**
 * Writes a committed stream to the client in its dialect, with backpressure (a slow client pauses the upstream
 * read: the next event is not pulled until the socket drains) and heartbeats: an SSE comment whenever nothing has
 * been written for `heartbeatMs`, so proxies and load balancers don't cut a stream whose upstream is thinking.
 * Resolves with the error the stream ended on, if any.
 */
export async function relayStream(
  ex: Exchange,
  events: AsyncIterable<StreamEvent>,
  writer: StreamWriter,
  heartbeatMs: number,
): Promise<GatewayError | undefined> {
  let lastWrite = performance.now();
  let draining = false;
  /** Writes; returns a promise only when the client is behind (no promise per chunk otherwise). */
  const write = (text: string): Promise<void> | undefined => {
    lastWrite = performance.now();
    if (ex.write(text)) return undefined;
    draining = true;
    return ex.drained().then(() => {
      draining = false;
    });
  };
  // One timer per stream, not per chunk: it only writes when the stream has been silent long enough.
  const timer = setInterval(() => {
    if (!draining && !ex.signal.aborted && performance.now() - lastWrite >= heartbeatMs - 5) {
      lastWrite = performance.now();
      ex.write(HEARTBEAT);
    }
  }, heartbeatMs);
  try {
    for await (const e of events) {
      if (ex.signal.aborted) break;
      if (e.type === 'chunk') {
        const text = writer.chunk(e);
        const behind = text === '' ? undefined : write(text);
        if (behind) await behind;
      } else if (e.type === 'comment') {
        const behind = write(`: ${e.text.replace(/[\r\n]+/g, ' ')}\n\n`);
        if (behind) await behind;
      } else if (e.type === 'done') {
        ex.end(writer.done());
        return undefined;
      } else {
        ex.end(writer.error(e.error));
        return e.error;
      }
    }
    ex.end();
    return undefined;
  } finally {
    clearInterval(timer);
  }
}
