// Where a stream's first token spends its time inside a proxy (Lifeline or bench/floor.mjs). Load it into the
// server with `node --import ./bench/trace-first-token.mjs …`; each SIGUSR2 prints, to stderr, the p50 of the
// streams completed since the last one, in ms:
//   reqToCreate    the client's request event → the upstream request created (undici)
//   createToChunk  → the upstream's first token received (the reply's first word must contain "token-00", as the
//                    bench's mock reply does)
//   chunkToWrite   → that token written to the client (the `res.write` call)
//   writeToSocket  → its bytes handed to the socket. node:http corks a response on a write and uncorks it on the
//                    next tick, which runs only after every promise continuation pending in that turn: a write made
//                    in the middle of other work leaves when that work is done, not when `write` is called
// Streams are followed through node's HTTP server, undici's diagnostics channels and AsyncLocalStorage.
import { AsyncLocalStorage } from 'node:async_hooks';
import dc from 'node:diagnostics_channel';
import http from 'node:http';

const FIRST = 'token-00';
const als = new AsyncLocalStorage();
const byRequest = new WeakMap();
const done = [];

const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, req, res, ...rest) {
  if (event !== 'request') return emit.call(this, event, req, res, ...rest);
  const s = { req: performance.now() };
  res.firstTokenTrace = s;
  return als.run(s, () => emit.call(this, event, req, res, ...rest));
};

const write = http.ServerResponse.prototype.write;
http.ServerResponse.prototype.write = function (chunk, ...rest) {
  const s = this.firstTokenTrace;
  if (s && s.write === undefined && String(chunk).includes(FIRST)) {
    s.write = performance.now();
    const ok = write.call(this, chunk, ...rest);
    // Corked: the bytes leave at the uncork that brings the count to 0 (node's on the next tick, or the caller's own).
    if (this.socket?.writableCorked) onUncorked(this.socket, s);
    else finish(s);
    return ok;
  }
  return write.call(this, chunk, ...rest);
};

const awaitingUncork = new WeakMap();
const watched = new WeakSet();

function onUncorked(socket, s) {
  awaitingUncork.set(socket, s);
  if (watched.has(socket)) return;
  watched.add(socket);
  const uncork = socket.uncork;
  socket.uncork = function (...args) {
    const result = uncork.apply(this, args);
    const pending = awaitingUncork.get(this);
    if (pending && !this.writableCorked) {
      awaitingUncork.delete(this);
      finish(pending);
    }
    return result;
  };
}

function finish(s) {
  s.socket = performance.now();
  if (s.create !== undefined && s.chunk !== undefined) done.push(s);
}

dc.subscribe('undici:request:create', ({ request }) => {
  const s = als.getStore();
  if (!s) return;
  s.create = performance.now();
  byRequest.set(request, s);
});
dc.subscribe('undici:request:bodyChunkReceived', ({ request, chunk }) => {
  const s = byRequest.get(request);
  if (s && s.chunk === undefined && chunk.includes(FIRST)) s.chunk = performance.now();
});

const p50 = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? null : Math.round(sorted[Math.floor((sorted.length - 1) / 2)] * 1000) / 1000;
};

process.on('SIGUSR2', () => {
  const streams = done.splice(0);
  const out = {
    streams: streams.length,
    reqToCreate: p50(streams.map((s) => s.create - s.req)),
    createToChunk: p50(streams.map((s) => s.chunk - s.create)),
    chunkToWrite: p50(streams.map((s) => s.write - s.chunk)),
    writeToSocket: p50(streams.map((s) => s.socket - s.write)),
  };
  process.stderr.write(`first-token trace ${JSON.stringify(out)}\n`);
});
