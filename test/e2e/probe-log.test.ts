// Probe hits (/health, /ready, /metrics) answered 200 are logged at debug, not info: a load balancer probing every
// second would otherwise write most of the log. A probe answered otherwise (a 405, /ready's 503) stays at info.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { startMock, type MockServer } from '../../src/mock/index.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { memoryLogger, PROVIDER_KEY } from '../support/helpers.js';

interface Line {
  level: number;
  msg: string;
  method: string;
  path: string;
  status: number;
}

let mock: MockServer | undefined;
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.shutdown();
  await mock?.close();
  server = mock = undefined;
});

async function start(logger: ReturnType<typeof memoryLogger>['logger']): Promise<RunningServer> {
  mock = await startMock();
  const config = resolveConfig({
    server: { port: 0 },
    providers: { upstream: { type: 'openai', api_key: PROVIDER_KEY, base_url: mock.url } },
    models: { 'gpt-test': { targets: [{ provider: 'upstream', model: 'mock-gpt' }] } },
  });
  server = await startServer(config, { logger });
  return server;
}

function requestLines(lines: string[]): Line[] {
  return lines.map((l) => JSON.parse(l) as Line).filter((l) => l.msg === 'request');
}

async function hit(url: string, path: string, init?: RequestInit): Promise<number> {
  const res = await fetch(`${url}${path}`, init);
  await res.arrayBuffer();
  return res.status;
}

describe('the request line of a probe', () => {
  it('is at debug for a 200 on /health, /ready and /metrics; at info for a probe answered otherwise and for API requests', async () => {
    const { logger, lines } = memoryLogger(); // debug level: every line is kept, with its level
    const { url } = await start(logger);
    expect(await hit(url, '/health')).toBe(200);
    expect(await hit(url, '/ready')).toBe(200);
    expect(await hit(url, '/metrics')).toBe(200);
    expect(await hit(url, '/health', { method: 'POST' })).toBe(405);
    expect(await hit(url, '/v1/models')).toBe(200);
    const body = JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] });
    expect(await hit(url, '/v1/chat/completions', { method: 'POST', body, headers: { 'content-type': 'application/json' } })).toBe(200);

    const byHit = requestLines(lines).map((l) => `${l.method} ${l.path} ${l.status} ${l.level === 20 ? 'debug' : l.level === 30 ? 'info' : l.level}`);
    expect(byHit).toEqual([
      'GET /health 200 debug',
      'GET /ready 200 debug',
      'GET /metrics 200 debug',
      'POST /health 405 info',
      'GET /v1/models 200 info',
      'POST /v1/chat/completions 200 info',
    ]);
  });

  it('is not written at all at the default info level; a probe answered otherwise is', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    const { url } = await start(pino({ level: 'info' }, sink));
    for (let i = 0; i < 5; i++) expect(await hit(url, '/health')).toBe(200);
    expect(requestLines(lines)).toEqual([]);
    expect(await hit(url, '/ready', { method: 'DELETE' })).toBe(405);
    expect(requestLines(lines).map((l) => `${l.method} ${l.path} ${l.status}`)).toEqual(['DELETE /ready 405']);
  });
});
