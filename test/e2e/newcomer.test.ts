/**
 * Small things a first-time user hits: a base_url without its version segment (the upstream's bare 404 must say
 * what was called and what to check), and library mode writing the gateway's logs into the app's own stdout.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { startMock, type MockServer } from '../../src/mock/index.js';
import { startServer } from '../../src/server/serve.js';
import { memoryLogger, PROVIDER_KEY } from '../support/helpers.js';

let mock: MockServer;
/** The mock without its `/v1`: where a newcomer's base_url often points. */
let origin: string;

beforeAll(async () => {
  mock = await startMock();
  origin = new URL(mock.url).origin;
});
afterAll(async () => {
  await mock.close();
});

/** The gateway on a real socket with one provider `p` serving model `m`; returns the error a chat call gets. */
async function chatError(provider: Record<string, unknown>, model = 'mock-model', stream = false) {
  const config = resolveConfig(
    {
      server: { port: 0 },
      retry: { max_attempts: 1 },
      providers: { p: provider },
      models: { m: { targets: [{ provider: 'p', model }] } },
    },
    {},
  );
  const { logger, lines } = memoryLogger();
  const server = await startServer(config, { logger });
  try {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'client', maxRetries: 0 });
    const call = client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream });
    const error = (await call.then(
      () => undefined,
      (e: unknown) => e,
    )) as { status?: number; message?: string; code?: string } | undefined;
    expect(error, 'the call should fail').toBeDefined();
    return { status: error!.status, message: String(error!.message), lines };
  } finally {
    await server.shutdown();
  }
}

describe('an upstream 404 for the path the gateway called', () => {
  it('OpenAI type, base_url without /v1: says which URL was called and to check base_url (JSON and stream)', async () => {
    for (const stream of [false, true]) {
      const { status, message, lines } = await chatError({ type: 'openai', api_key: PROVIDER_KEY, base_url: origin }, 'mock-gpt', stream);
      expect(status).toBe(502);
      expect(message).toContain('Invalid URL'); // the upstream's own words stay
      expect(message).toContain(`POST ${origin}/chat/completions`);
      expect(message).toContain('base_url');
      expect(message).toContain('/v1');
      for (const text of [message, ...lines]) expect(text).not.toContain(PROVIDER_KEY);
    }
  });

  it('Anthropic and Gemini types get their own version segment as advice', async () => {
    const anthropic = await chatError({ type: 'anthropic', api_key: PROVIDER_KEY, base_url: origin }, 'mock-claude');
    expect(anthropic.status).toBe(502);
    expect(anthropic.message).toContain(`POST ${origin}/messages`);
    expect(anthropic.message).toMatch(/base_url.*\/v1\b/);
    const gemini = await chatError({ type: 'gemini', api_key: PROVIDER_KEY, base_url: origin }, 'mock-gemini');
    expect(gemini.status).toBe(502);
    expect(gemini.message).toContain(`${origin}/models/mock-gemini:generateContent`);
    expect(gemini.message).toMatch(/base_url.*\/v1beta/);
    for (const text of [anthropic.message, gemini.message]) expect(text).not.toContain(PROVIDER_KEY);
  });

  it('shows scheme, host and path only: no query string (Azure api-version), no key', async () => {
    const { status, message } = await chatError({ type: 'azure', api_key: PROVIDER_KEY, base_url: `${origin}/v1`, api_version: '2024-10-21' });
    expect(status).toBe(502);
    expect(message).toContain(`POST ${origin}/v1/openai/deployments/mock-model/chat/completions`);
    expect(message).not.toContain('?');
    expect(message).not.toContain('api-version');
    expect(message).not.toContain(PROVIDER_KEY);
    expect(message).toContain('base_url');
  });

  it('a model the upstream does not know is not blamed on base_url', async () => {
    mock.setPlan({ default: { status: 404 } });
    try {
      const { status, message } = await chatError({ type: 'openai', api_key: PROVIDER_KEY, base_url: mock.url }, 'mock-gpt');
      expect(status).toBe(502);
      expect(message).toContain('does not exist');
      expect(message).not.toContain('base_url');
      expect(message).not.toContain(origin);
    } finally {
      mock.setPlan({});
    }
  });
});

describe('library mode logs nothing into the app unless asked', () => {
  const DIST = pathToFileURL(join(import.meta.dirname, '..', '..', 'dist', 'index.js')).href;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeline-lib-'));
  });

  /** A small app using the library: two requests (one ok, one an error), then its own single line of output. */
  async function runApp(configExpr: string): Promise<{ stdout: string; stderr: string; status: number | null }> {
    const script = `
import { createGateway } from ${JSON.stringify(DIST)};
const gateway = createGateway(${configExpr});
const ask = (model) => gateway.fetch('http://lifeline.local/v1/chat/completions', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
});
const ok = await ask('m');
const missing = await ask('nope');
await gateway.close();
process.stdout.write('app: ' + ok.status + ' ' + missing.status + '\\n');
`;
    const file = join(dir, `app-${Math.random().toString(36).slice(2)}.mjs`);
    writeFileSync(file, script);
    // Not spawnSync: the mock this app calls runs in this process, which must stay free to answer it.
    const child = spawn(process.execPath, [file], { env: { ...process.env, KEY: PROVIDER_KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
    return { stdout, stderr, status };
  }

  const objectConfig = (logging: string) =>
    `{ ${logging} providers: { p: { type: 'openai', api_key: '\${KEY}', base_url: ${JSON.stringify(mock.url)} } }, models: { m: { targets: [{ provider: 'p', model: 'mock-gpt' }] } } }`;

  function yamlConfig(logging: string): string {
    const file = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, `${logging}\nproviders: { p: { type: openai, api_key: "\${KEY}", base_url: "${mock.url}" } }\nmodels: { m: { targets: [{ provider: p, model: mock-gpt }] } }\n`);
    return JSON.stringify(file);
  }

  it('no logger and no logging section: the app prints only its own output (object and file configs)', async () => {
    for (const config of [objectConfig(''), yamlConfig('')]) {
      const { stdout, stderr, status } = await runApp(config);
      expect(stderr).toBe('');
      expect(status).toBe(0);
      expect(stdout).toBe('app: 200 404\n');
    }
  });

  it('logging.level set in the config: request lines on stdout as in server mode', async () => {
    for (const config of [objectConfig("logging: { level: 'info' },"), yamlConfig('logging: { level: info }')]) {
      const { stdout, status } = await runApp(config);
      expect(status).toBe(0);
      const lines = stdout.trim().split('\n');
      expect(lines.at(-1)).toBe('app: 200 404');
      const logged = lines.slice(0, -1).map((line) => JSON.parse(line) as { msg?: string });
      expect(logged.filter((l) => l.msg === 'request')).toHaveLength(2);
      expect(stdout).not.toContain(PROVIDER_KEY);
    }
  });
});
