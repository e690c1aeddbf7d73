import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** How long, and how many bytes, a closing connection goes on reading what its client still sends. */
export interface LingerBounds {
  ms: number;
  bytes: number;
}

const lingering = new WeakSet<Socket>();

/** The connection has been answered for the last time: whatever its client sends now is read and dropped. */
export function isLingering(socket: Socket): boolean {
  return lingering.has(socket);
}

/**
 * A lingering close, as nginx and Apache do it. A connection closed while its client is still sending (the body
 * of a request answered 413 before it was read) has unread bytes in the kernel: closing it sends a reset, and a
 * client that writes its whole body before reading (Python's requests, for one) gets EPIPE or ECONNRESET instead of
 * the answer, which was sent but is lost with the connection. So the answer goes out with a FIN after it, and the
 * gateway goes on reading and dropping what arrives until the client has sent all it meant to (`body` ends, or the
 * client half-closes), or for at most `ms` and `bytes`; then it closes the connection fully.
 */
export function lingeringClose(socket: Socket, bounds: LingerBounds, body?: IncomingMessage): void {
  if (lingering.has(socket) || socket.destroyed) return;
  lingering.add(socket);
  if (socket.writable) socket.end(); // after the answer, which is already handed to the socket
  if (bounds.ms === 0 || bounds.bytes === 0 || socket.readableEnded || body?.complete === true) {
    closeWhenFlushed(socket, Math.max(bounds.ms, FLUSH_GRACE_MS));
    return;
  }
  const timer = setTimeout(() => socket.destroy(), bounds.ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  const done = (): void => closeWhenFlushed(socket, bounds.ms);
  socket.once('end', done);
  if (body) {
    // node's parser reads on for us (as it does for a keep-alive connection's unread body); the body's bytes
    // come here and are dropped.
    let seen = 0;
    body.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > bounds.bytes) socket.destroy();
    });
    body.once('end', done); // all the client declared is in: nothing more to wait for
    body.resume();
  }
  socket.resume();
}

/** For a client that does not read its answer: how long its last bytes may take to leave before the close. */
export const FLUSH_GRACE_MS = 1_000;

/**
 * Destroys the socket once its last bytes are handed to the kernel (at once when they already are), or after
 * `graceMs` when they cannot be (a client that does not read).
 */
export function closeWhenFlushed(socket: Socket, graceMs = FLUSH_GRACE_MS): void {
  if (socket.writableFinished || socket.destroyed) {
    socket.destroy();
    return;
  }
  const timer = setTimeout(() => socket.destroy(), graceMs);
  timer.unref();
  socket.once('finish', () => socket.destroy());
  socket.once('close', () => clearTimeout(timer));
}
