// UpstreamCall, the undici dispatch handler behind Transport.send, driven directly: headers, body queueing and
// backpressure, errors after queued data, discard and aborts before and after connecting. No sockets: the
// handler's undici side (onConnect/onHeaders/onData/onComplete/onError) is called as undici would call it.
import { describe, expect, it, vi } from 'vitest';
import { Cancel } from '../src/cancel.js';
import { GatewayError } from '../src/errors.js';
import { mapTransportError } from '../src/transport/transport.js';
import { parseRawHeaders, type UpstreamResponse, UpstreamCall } from '../src/transport/upstream-call.js';

function call(signal = new Cancel()) {
  let response: UpstreamResponse | undefined;
  let failure: GatewayError | undefined;
  const c = new UpstreamCall({ first_byte_ms: 5000, idle_ms: 5000 }, 'Upstream x', signal, (err, reason) => mapTransportError(err, reason, 'Upstream x'), {
    resolve: (r) => {
      response = r;
    },
    reject: (e) => {
      failure = e;
    },
  });
  const abort = vi.fn((reason?: Error) => c.onError(reason ?? new Error('aborted')));
  const resume = vi.fn();
  return { c, abort, resume, signal, response: () => response, failure: () => failure };
}

const raw = (pairs: Record<string, string>) => Object.entries(pairs).flatMap(([k, v]) => [Buffer.from(k), Buffer.from(v)]);

describe('parseRawHeaders', () => {
  it('lower-cases names, keeps repeats as arrays, takes HTTP/2 string and array values', () => {
    const h = parseRawHeaders([Buffer.from('Content-Type'), Buffer.from('text/plain'), Buffer.from('Set-Cookie'), Buffer.from('a=1'), 'set-cookie', ['b=2', 'c=3'], '__proto__', 'x']);
    expect(h['content-type']).toBe('text/plain');
    expect(h['set-cookie']).toEqual(['a=1', 'b=2', 'c=3']);
    expect(Object.getOwnPropertyDescriptor(h, '__proto__')?.value).toBe('x');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('UpstreamCall', () => {
  it('ignores 1xx and resolves on the real status with parsed headers', () => {
    const t = call();
    t.c.onConnect(t.abort);
    expect(t.c.onHeaders(100, raw({}), t.resume)).toBe(true);
    expect(t.response()).toBeUndefined();
    t.c.onHeaders(200, raw({ 'X-Request-Id': 'r1' }), t.resume);
    expect(t.response()?.status).toBe(200);
    expect(t.response()?.headers['x-request-id']).toBe('r1');
  });

  it('delivers chunks queued before the reader starts, in order, then ends', async () => {
    const t = call();
    t.c.onConnect(t.abort);
    t.c.onHeaders(200, raw({}), t.resume);
    t.c.onData(Buffer.from('a'));
    t.c.onData(Buffer.from('b'));
    t.c.onComplete();
    const got: string[] = [];
    for await (const chunk of t.c.body) got.push(chunk.toString());
    expect(got).toEqual(['a', 'b']);
  });

  it('pauses the socket past 64 KB queued and resumes once the reader has caught up', async () => {
    const t = call();
    t.c.onConnect(t.abort);
    t.c.onHeaders(200, raw({}), t.resume);
    const chunk = Buffer.alloc(16 * 1024);
    expect([1, 2, 3].map(() => t.c.onData(chunk))).toEqual([true, true, true]);
    expect(t.c.onData(chunk)).toBe(false); // 64 KB waiting
    const it = t.c.body[Symbol.asyncIterator]();
    await it.next();
    await it.next();
    expect(t.resume).not.toHaveBeenCalled(); // 32 KB still waiting
    await it.next();
    await it.next();
    expect(t.resume).toHaveBeenCalledTimes(1);
  });

  it('hands over what was queued before an error, then the error', async () => {
    const t = call();
    t.c.onConnect(t.abort);
    t.c.onHeaders(200, raw({}), t.resume);
    t.c.onData(Buffer.from('partial'));
    t.c.onError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
    const it = t.c.body[Symbol.asyncIterator]();
    expect((await it.next()).value?.toString()).toBe('partial');
    const err = await it.next().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).message).toContain('ECONNRESET');
    expect((await it.next()).done).toBe(true);
  });

  it('text() joins queued and later chunks, a split UTF-8 character included', async () => {
    const t = call();
    t.c.onConnect(t.abort);
    t.c.onHeaders(200, raw({}), t.resume);
    const euro = Buffer.from('€');
    t.c.onData(Buffer.concat([Buffer.from('price: '), euro.subarray(0, 1)]));
    const text = t.c.text();
    t.c.onData(euro.subarray(1));
    t.c.onComplete();
    expect(await text).toBe('price: €');
  });

  it('text() rejects with the mapped error when the body fails', async () => {
    const t = call();
    t.c.onConnect(t.abort);
    t.c.onHeaders(200, raw({}), t.resume);
    const text = t.c.text();
    t.c.onError(Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }));
    await expect(text).rejects.toMatchObject({ kind: 'connection' });
  });

  it('discard() aborts an unfinished response once, ends a waiting reader, and ignores what follows', async () => {
    const t = call();
    t.c.onConnect(t.abort);
    t.c.onHeaders(200, raw({}), t.resume);
    const pending = t.c.body[Symbol.asyncIterator]().next();
    t.c.discard();
    t.c.discard();
    expect(t.abort).toHaveBeenCalledTimes(1);
    expect((await pending).done).toBe(true);
    expect(t.c.onData(Buffer.from('late'))).toBe(false);
  });

  it('discard() after the response completed does not abort (the connection goes back to the pool)', () => {
    const t = call();
    t.c.onConnect(t.abort);
    t.c.onHeaders(200, raw({}), t.resume);
    t.c.onComplete();
    t.c.discard();
    expect(t.abort).not.toHaveBeenCalled();
  });

  it('the request signal aborts it with its reason, which the reader then gets', async () => {
    const t = call();
    t.c.onConnect(t.abort);
    t.c.onHeaders(200, raw({}), t.resume);
    const next = t.c.body[Symbol.asyncIterator]().next();
    const reason = new GatewayError('timeout', 'total timeout', { code: 'total_timeout' });
    t.signal.abort(reason);
    expect(t.abort).toHaveBeenCalledWith(reason);
    await expect(next).rejects.toBe(reason);
  });

  it('an abort while still queued for a connection fails the call at once; connecting later aborts at once', () => {
    const t = call();
    const reason = new GatewayError('connection', 'client left', { code: 'client_closed' });
    t.signal.abort(reason);
    expect(t.failure()).toBe(reason);
    t.c.onConnect(t.abort);
    expect(t.abort).toHaveBeenCalledWith(reason);
  });

  it('does nothing on aborts after it completed', () => {
    const t = call();
    t.c.onConnect(t.abort);
    t.c.onHeaders(200, raw({}), t.resume);
    t.c.onComplete();
    t.signal.abort(new Error('late'));
    t.c.abort(new Error('late too'));
    expect(t.abort).not.toHaveBeenCalled();
  });
});
