import Anthropic from '@anthropic-ai/sdk';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { startMock, type MockServer } from '../../src/mock/index.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { CLIENT_KEY, memoryLogger, PROVIDER_KEY } from '../support/helpers.js';
import { type Valve, valveProxy } from '../support/valve-proxy.js';

/**
 * The drain, as a load balancer and clients see it (issue 19.3). From the moment `shutdown()` is called until the
 * work in flight is done, the gateway keeps listening: /health answers 200 (alive), /ready 503 draining, and any
 * new API request 503 `server_shutting_down` (in its route's dialect) with Retry-After and `Connection: close` —
 * while the stream that was already running finishes normally. Then the listener closes.
 */

interface World {
  mock: MockServer;
  valve: Valve;
  server: RunningServer;
  lines: string[];
}

let world: World | undefined;
afterEach(async () => {
  world?.valve.release();
  await world?.server.shutdown();
  await world?.valve.close();
  await world?.mock.close();
  world = undefined;
});

/** The gateway → a valve → the mock: the valve holds a stream open as long as the test wants. */
async function startWorld(): Promise<World> {
  const mock = await startMock();
  const valve = await valveProxy(mock.url);
  const config = resolveConfig({
    server: { port: 0, drain_timeout_ms: 25_000 },
    providers: { upstream: { type: 'openai', api_key: PROVIDER_KEY, base_url: valve.url } },
    models: { 'gpt-test': { targets: [{ provider: 'upstream', model: 'mock-gpt' }] } },
  });
  const { logger, lines } = memoryLogger();
  const server = await startServer(config, { logger });
  world = { mock, valve, server, lines };
  return world;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request on a new connection (no agent: what a probe or a new client does). */
function send(url: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method, agent: false, headers: body ? { 'content-type': 'application/json', ...headers } : headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const CHAT = { model: 'gpt-test', messages: [{ role: 'user' as const, content: 'a long answer' }] };

describe('while the gateway drains', () => {
  it('answers /health 200 and /ready 503 draining, refuses new API work with 503 server_shutting_down and Connection: close, lets the running stream finish, then stops listening', async () => {
    const w = await startWorld();
    const { url } = w.server;
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 20_000 });

    // A stream under way: its 200 and its first word are out, the rest held back upstream.
    w.valve.holdAfterEvents(2); // the role chunk and the first word
    const stream = await client.chat.completions.create({ ...CHAT, stream: true });
    let text = '';
    let finish: string | null = null;
    const reading = (async () => {
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
    })();
    await until('the first word', () => text.length > 0);
    await until('the rest held back', () => w.valve.heldBytes() > 0);

    let stopped = false;
    const shutdown = w.server.shutdown().then(() => {
      stopped = true;
    });

    // Probes: alive, not ready.
    const health = await send(url, 'GET', '/health');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok', draining: true });
    const ready = await send(url, 'GET', '/ready');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({ status: 'draining' });

    // New API work, from the official SDK: a 503 it can read.
    const refused = await client.chat.completions.create(CHAT).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(APIError);
    expect((refused as APIError).status).toBe(503);
    expect((refused as APIError).code).toBe('server_shutting_down');

    // The same on the wire: Retry-After, and the connection is not kept.
    const raw = await send(url, 'POST', '/v1/chat/completions', JSON.stringify(CHAT));
    expect(raw.status).toBe(503);
    expect(raw.headers['retry-after']).toBe('1');
    expect(raw.headers.connection).toBe('close');
    expect(JSON.parse(raw.body).error.code).toBe('server_shutting_down');

    // Anthropic's route answers in Anthropic's shape.
    const anthropic = new Anthropic({ baseURL: url, apiKey: 'anything', maxRetries: 0, timeout: 20_000 });
    const refusedA = await anthropic.messages.create({ model: 'gpt-test', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refusedA).toBeInstanceOf(Anthropic.APIError);
    expect((refusedA as InstanceType<typeof Anthropic.APIError>).status).toBe(503);
    const bodyA = (refusedA as InstanceType<typeof Anthropic.APIError>).error as { type: string; error: { type: string } };
    expect(bodyA.type).toBe('error');
    expect(bodyA.error.type).toBe('overloaded_error');

    // None of the refused requests reached the upstream; the stream holds the drain open.
    expect(w.mock.stats().records.length).toBe(1);
    expect(stopped).toBe(false);

    // The stream finishes as it would have: the whole answer, a clean end.
    w.valve.release();
    await reading;
    expect(text).toBe(w.mock.answerFor({ ...CHAT, stream: true }));
    expect(finish).toBe('stop');

    // Drained: the gateway stops listening.
    await shutdown;
    const after = await send(url, 'GET', '/health').then(
      () => 'answered',
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect(after).toBe('ECONNREFUSED');

    const requests = w.lines.map((l) => JSON.parse(l) as { msg: string; path: string; status: number }).filter((l) => l.msg === 'request');
    const stream200 = requests.find((l) => l.path === '/v1/chat/completions' && l.status === 200);
    expect(stream200).toBeDefined();
  });

  it('with nothing in flight, stops listening at once', async () => {
    const w = await startWorld();
    await w.server.shutdown();
    const after = await send(w.server.url, 'GET', '/ready').then(
      () => 'answered',
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect(after).toBe('ECONNREFUSED');
  });
});

/** The built CLI (`npm test` builds first, as for test/e2e/cli.test.ts); DRAIN_CLI points at another build to compare. */
const CLI = process.env.DRAIN_CLI ?? join(import.meta.dirname, '..', '..', 'dist', 'cli.js');

/** `lifeline serve` on a config whose upstream is the valve; resolves once it listens. */
function serve(valve: Valve): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-drain-'));
  const config = join(dir, 'lifeline.yaml');
  writeFileSync(
    config,
    `server: { drain_timeout_ms: 25000 }
providers:
  upstream: { type: openai, api_key: \${TEST_KEY}, base_url: ${valve.url} }
models:
  gpt-test: { targets: [{ provider: upstream, model: mock-gpt }] }
`,
  );
  const child = spawn(process.execPath, [CLI, 'serve', '--config', config, '--port', '0'], {
    env: { ...process.env, TEST_KEY: PROVIDER_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) resolve({ child, url: m[1], output: () => out });
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
}

describe('lifeline serve on SIGTERM', () => {
  it('drains as the library does (probes answered, /ready 503), survives a repeated signal, exits 0 once the stream is done', async () => {
    const mock = await startMock();
    const valve = await valveProxy(mock.url);
    const { child, url, output } = await serve(valve);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 20_000 });
      valve.holdAfterEvents(2);
      const stream = await client.chat.completions.create({ ...CHAT, stream: true });
      let text = '';
      const reading = (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      })();
      reading.catch(() => {}); // awaited below; not an unhandled rejection if the test fails first
      await until('the first word', () => text.length > 0);

      child.kill('SIGTERM');
      // /ready says 200 until the signal lands, then 503: never a refused connection (send would throw).
      for (let ready = 200; ready !== 503; ) {
        ready = (await send(url, 'GET', '/ready')).status;
        expect([200, 503]).toContain(ready);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect((await send(url, 'GET', '/health')).status).toBe(200);
      expect(output()).toContain('lifeline draining on SIGTERM');
      // A second signal (npm run forwards a Ctrl-C the terminal also delivered) does not cut the drain short.
      child.kill('SIGINT');
      await until('the repeat was noticed', () => output().includes('while draining'));
      expect((await send(url, 'GET', '/health')).status).toBe(200);
      expect(child.exitCode).toBe(null);

      valve.release();
      await reading;
      expect(text).toBe(mock.answerFor({ ...CHAT, stream: true }));
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      valve.release();
      await valve.close();
      await mock.close();
    }
  });
});
