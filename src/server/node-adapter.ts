import type { IncomingMessage, ServerResponse } from 'node:http';
import { Cancel } from '../cancel.js';
import type { Exchange } from './exchange.js';

/** node:http request/response → Exchange. `onClose` runs when the response is finished or the client is gone. */
export function nodeExchange(req: IncomingMessage, res: ServerResponse, onClose?: () => void): Exchange {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const ac = new Cancel();
  res.once('close', () => {
    if (!res.writableFinished) ac.abort();
    onClose?.();
  });
  const length = req.headers['content-length'];
  const declared = length === undefined ? undefined : Number(length);
  return {
    method: req.method ?? 'GET',
    path: q === -1 ? url : url.slice(0, q),
    headers: req.headers,
    declaredLength: declared !== undefined && Number.isFinite(declared) ? declared : undefined,
    body: req,
    signal: ac.signal,
    start(status, headers, closeConnection, flush) {
      if (closeConnection) res.shouldKeepAlive = false;
      res.writeHead(status, headers);
      if (flush) res.flushHeaders();
    },
    write(chunk, now) {
      const ok = res.write(chunk);
      // node:http corks the socket on a write and uncorks it on the next tick, after every pending promise
      // continuation of this turn: ~0.13 ms of the engine's bookkeeping when a first token is written mid-commit.
      if (now) res.uncork();
      return ok;
    },
    drained() {
      if (res.destroyed || !res.writableNeedDrain) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    },
    end(chunk) {
      if (chunk === undefined) res.end();
      else res.end(chunk);
    },
  };
}
