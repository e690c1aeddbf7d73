import type { GatewayError } from '../errors.js';
import type { StreamEvent } from '../types.js';
import type { Exchange } from './adapters/exchange.js';
import type { StreamWriter } from './ingress.js';

const HEARTBEAT = ': keep-alive\n\n';

/**
 * An SSE comment whenever nothing has been written for `ms`, so proxies and load balancers don't cut a stream
 * whose upstream is thinking. One timer per stream, not per chunk: each time it fires it is set again for `ms` after
 * the last write (a fixed interval would leave up to twice `ms` of silence after a write just past a tick), and it
 * never writes while the client is behind (`draining`).
 */
export class Heartbeat {
  private lastWrite = performance.now();
  draining = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly ex: Exchange,
    private readonly ms: number,
  ) {
    this.timer = setTimeout(this.tick, ms);
  }

  private readonly tick = (): void => {
    if (this.timer === undefined) return;
    const silent = performance.now() - this.lastWrite;
    let next = this.ms - silent;
    if (next <= 5) {
      if (!this.draining && !this.ex.signal.aborted) {
        this.lastWrite = performance.now();
        this.ex.write(HEARTBEAT);
      }
      next = this.ms;
    }
    this.timer = setTimeout(this.tick, next);
  };

  /** Something else was written just now. */
  wrote(): void {
    this.lastWrite = performance.now();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * Writes a committed stream to the client in its dialect, with backpressure (a slow client pauses the upstream
 * read: the next event is not pulled until the socket drains) and the stream's heartbeat, stopped at the end.
 * Resolves with the error the stream ended on, if any.
 */
export async function relayStream(
  ex: Exchange,
  events: AsyncIterable<StreamEvent>,
  writer: StreamWriter,
  heartbeat: Heartbeat,
  /** The stream's first chunks were written already (at commit): they pass here unwritten. */
  written = 0,
): Promise<GatewayError | undefined> {
  let skip = written;
  /** Writes; returns a promise only when the client is behind (no promise per chunk otherwise). */
  const write = (text: string): Promise<void> | undefined => {
    heartbeat.wrote();
    if (ex.write(text)) return undefined;
    heartbeat.draining = true;
    return ex.drained().then(() => {
      heartbeat.draining = false;
    });
  };
  try {
    for await (const e of events) {
      if (ex.signal.aborted) break;
      if (e.type === 'chunk') {
        if (skip > 0) {
          skip--;
          continue;
        }
        const text = writer.chunk(e);
        const behind = text === '' ? undefined : write(text);
        if (behind) await behind;
      } else if (e.type === 'comment') {
        const behind = write(sseComment(e.text));
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
    heartbeat.stop();
  }
}

/** An SSE comment line (clients ignore it; a person reading the stream sees it). */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}
