// Metrics across a config reload: the counts go on (one registry shared by the engines), and a model the reload
// adds becomes a label value from then on, while before it was `other`.
import OpenAI from 'openai';
import { afterEach, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import type { Config } from '../../src/config/types.js';
import { type MockServer, startMock } from '../../src/mock/index.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { memoryLogger, PROVIDER_KEY } from '../support/helpers.js';

let mock: MockServer | undefined;
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.shutdown();
  await mock?.close();
  server = mock = undefined;
});

function configWith(url: string, models: string[]): Config {
  return resolveConfig({
    server: { port: 0 },
    providers: { upstream: { type: 'openai', api_key: PROVIDER_KEY, base_url: url } },
    models: Object.fromEntries(models.map((m) => [m, { targets: [{ provider: 'upstream', model: `mock-${m}` }] }])),
  });
}

it('counts survive a reload; a model it adds is counted under its own name from then on', async () => {
  mock = await startMock();
  let config = configWith(mock.url, ['alpha']);
  server = await startServer(config, { logger: memoryLogger().logger, reloadFrom: () => config });
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'k', maxRetries: 0 });
  const ask = (model: string) => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).then(() => 200, (e: { status: number }) => e.status);
  expect([await ask('alpha'), await ask('beta')]).toEqual([200, 404]);

  config = configWith(mock.url, ['alpha', 'beta']);
  expect(server.reload().status).toBe('reloaded');
  expect([await ask('alpha'), await ask('beta')]).toEqual([200, 200]);

  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = (labels: string) => text.split('\n').find((l) => l.startsWith(`lifeline_requests_total{route="/v1/chat/completions",${labels}}`));
  expect(line('model="alpha",status="200"')).toMatch(/ 2$/);
  expect(line('model="other",status="404"')).toMatch(/ 1$/);
  expect(line('model="beta",status="200"')).toMatch(/ 1$/);
  expect(text).toContain('lifeline_breaker_state{deployment="upstream/mock-beta"} 0');
  expect(text).toContain('lifeline_upstream_attempts_total{deployment="upstream/mock-alpha",outcome="ok"} 2');
});
