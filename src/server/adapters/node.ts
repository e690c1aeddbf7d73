import type { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { Cancel } from '../../cancel.js';
import type { Exchange } from './exchange.js';
import { type LingerBounds, lingeringClose } from '../linger.js';

/**
 * node:http request/response → Exchange. `onClose` runs when the response is finished or the client is gone.
 * With `linger`, a response that closes the connection before the request's body is all in is followed by a
 * lingering close (linger.ts) instead of node's immediate one.
 */
export function nodeExchange(req: IncomingMessage, res: ServerResponse, onClose?: () => void, linger?: LingerBounds): Exchange {
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
      // A response the gateway ended itself (a stream cut short by shutdown) takes no more writes: node would
      // raise them as an error event.
      if (res.writableEnded) return true;
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
      if (res.writableEnded) return;
      if (linger && !req.complete) lingerAfter(req, res, linger);
      if (chunk === undefined) res.end();
      else res.end(chunk);
    },
    queued() {
      // node assigns a pipelined request's response its socket only when the responses before it are done.
      return res.socket === null && !res.writableEnded;
    },
  };
}

/** The request whose body was still coming in when its response ended, per connection. */
const unfinished = new WeakMap<Socket, { req: IncomingMessage; bounds: LingerBounds }>();

/**
 * node closes a connection after its last response with `socket.destroySoon()`. The connection's own is replaced,
 * so that the close lingers if the request's body is still coming in when that moment comes (a body that has
 * arrived in full by then needs nothing more).
 */
function lingerAfter(req: IncomingMessage, res: ServerResponse, bounds: LingerBounds): void {
  const socket = res.socket;
  if (!socket) return;
  unfinished.set(socket, { req, bounds });
  if (!Object.hasOwn(socket, 'destroySoon')) socket.destroySoon = lingeringDestroySoon;
  // Read on (node would start dropping the body once the response is out, and then raise no events for it:
  // the linger counts the bytes it drops).
  req.resume();
}

function lingeringDestroySoon(this: Socket): void {
  const last = unfinished.get(this);
  if (!last || last.req.complete) Socket.prototype.destroySoon.call(this);
  else lingeringClose(this, last.bounds, last.req);
}
