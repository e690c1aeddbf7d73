import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeExchange } from '../../../src/server/adapters/node.js';

/** The node:http side of an Exchange, over a real socket. */

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe('nodeExchange write', () => {
  it('leaves a plain write corked until the end of the turn, and hands a write with `now` (and what came before it) to the socket at once', async () => {
    const seen: number[] = [];
    server = createServer((req, res) => {
      const ex = nodeExchange(req, res);
      ex.start(200, { 'content-type': 'text/plain' }, false, true);
      const socket = res.socket;
      if (!socket) throw new Error('no socket');
      ex.write('first;');
      seen.push(socket.writableLength); // still in node's buffer: the socket is corked until the next tick
      ex.write('second;', true);
      seen.push(socket.writableLength); // both handed to the socket now
      ex.end('end');
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const body = await new Promise<string>((resolve, reject) => {
      request({ host: '127.0.0.1', port, method: 'GET', path: '/' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve(text));
      })
        .on('error', reject)
        .end();
    });
    expect(body).toBe('first;second;end');
    expect(seen[0]).toBeGreaterThan(0);
    expect(seen[1]).toBe(0);
  });
});
