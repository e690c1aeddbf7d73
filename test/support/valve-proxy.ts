import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback in front of an upstream (the mock) whose upstream-to-client direction is a valve: once
 * told to, it lets the first `n` server-sent events of a response through and holds back everything after them
 * until `release()`. A stream held this way stays open (its 200 and first tokens are out) for exactly as long as a
 * test needs, without a timer.
 */
export interface Valve {
  /** The proxy's base URL, with the target's path (e.g. `http://127.0.0.1:PORT/v1`). */
  url: string;
  /** From now on, hold back what follows the first `n` events (`data: ` lines) the upstream sends. */
  holdAfterEvents(n: number): void;
  /** Lets through what was held, and everything after it. */
  release(): void;
  /** Bytes held back so far (not yet released). */
  heldBytes(): number;
  close(): Promise<void>;
}

const EVENT = Buffer.from('data: ');

export async function valveProxy(target: string): Promise<Valve> {
  const to = new URL(target);
  const sockets = new Set<Socket>();
  let budget: number | undefined; // events still let through before the valve closes; undefined: open
  let closed = false;
  const held: { socket: Socket; data: Buffer }[] = [];

  const forward = (client: Socket, data: Buffer): void => {
    if (closed) {
      held.push({ socket: client, data });
      return;
    }
    if (budget === undefined) {
      client.write(data);
      return;
    }
    // Cut at the start of the event after the budget's last.
    let at = data.indexOf(EVENT);
    while (at !== -1 && budget > 0) {
      budget--;
      at = data.indexOf(EVENT, at + EVENT.length);
    }
    if (at === -1) {
      client.write(data);
      return;
    }
    client.write(data.subarray(0, at));
    held.push({ socket: client, data: data.subarray(at) });
    closed = true;
  };

  const server: Server = createServer((client) => {
    const upstream = connect(Number(to.port), to.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (d: Buffer) => upstream.write(d));
    upstream.on('data', (d: Buffer) => forward(client, d));
    client.on('end', () => upstream.end());
    upstream.on('end', () => (closed ? held.push({ socket: client, data: Buffer.alloc(0) }) : client.end()));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      if (!closed) client.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}${to.pathname}`,
    holdAfterEvents(n) {
      budget = n;
    },
    release() {
      closed = false;
      budget = undefined;
      // An empty buffer stands for the upstream's end, in its place.
      for (const { socket, data } of held.splice(0)) {
        if (data.length === 0) socket.end();
        else socket.write(data);
      }
    },
    heldBytes: () => held.reduce((n, h) => n + h.data.length, 0),
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
