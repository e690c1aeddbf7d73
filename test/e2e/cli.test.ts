import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECT_ROUTES } from '../../src/mock/dialects/index.js';
import { startMock, type MockServer } from '../../src/mock/index.js';
import { FAULT_PRESETS } from '../../src/mock/fault-presets.js';
import { collectText, PROVIDER_KEY } from '../support/helpers.js';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');
let mock: MockServer;
let dir: string;

beforeAll(async () => {
  mock = await startMock();
  dir = mkdtempSync(join(tmpdir(), 'lifeline-cli-'));
});
afterAll(async () => {
  await mock.close();
});

function writeConfig(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function goodConfig(): string {
  return writeConfig(
    'good.yaml',
    `server: { drain_timeout_ms: 10000 }
providers:
  upstream: { type: openai, api_key: \${TEST_KEY}, base_url: ${mock.url} }
models:
  gpt-test: { targets: [{ provider: upstream, model: mock-gpt }] }
`,
  );
}

/** Starts `lifeline serve` and resolves with its URL once it listens. */
function serve(config: string): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--config', config, '--port', '0'], {
    env: { ...process.env, TEST_KEY: PROVIDER_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]!, output: () => out });
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
}

describe('the lifeline CLI', () => {
  it('--help lists the commands', () => {
    const res = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect(res.status).toBe(0);
    for (const cmd of ['serve', 'check', 'models', 'mock']) expect(res.stdout).toContain(cmd);
  });

  it('check prints each model with its deployments, never the key', () => {
    const res = spawnSync(process.execPath, [CLI, 'check', '--config', goodConfig()], {
      encoding: 'utf8',
      env: { ...process.env, TEST_KEY: PROVIDER_KEY },
    });
    expect(res.status).toBe(0);
    expect(res.stdout).toContain('gpt-test');
    expect(res.stdout).toContain('upstream/mock-gpt');
    expect(res.stdout).not.toContain(PROVIDER_KEY);
    // Nothing listens during a check: the address is where `serve` would listen.
    expect(res.stdout).toContain('would listen on http://127.0.0.1:4000');
    expect(res.stdout + res.stderr).not.toContain('listening on');
  });

  it('check names the path of a config error and exits 2', () => {
    const bad = writeConfig(
      'bad.yaml',
      'providers: { openai-east: { type: openai } }\nmodels: { gpt-4o: { targets: [{ provider: opneai, model: gpt-4o }] } }\n',
    );
    const res = spawnSync(process.execPath, [CLI, 'check', '--config', bad], { encoding: 'utf8' });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('models.gpt-4o.targets[0].provider: unknown provider "opneai" (known: openai-east)');
  });

  it('mock --help names every API the mock speaks, with its routes, and every fault', () => {
    const res = spawnSync(process.execPath, [CLI, 'mock', '--help'], { encoding: 'utf8' });
    expect(res.status).toBe(0);
    const help = res.stdout;
    for (const api of ['OpenAI', 'Azure OpenAI', 'Anthropic', 'Gemini', 'Bedrock']) expect(help).toContain(api);
    // Every route the mock serves is listed: each listed path with `{…}` filled in must be matched by a route,
    // and each route must match one listed path (a new route without help text fails here).
    const listed = [...help.matchAll(/(?:GET|POST) (\/\S+)/g)]
      .map((m) => m[1]!.replace(/\{[^}]+\}/g, 'x').replace(/[,;]$/, ''))
      .filter((path) => !path.startsWith('/_mock/'));
    for (const route of DIALECT_ROUTES) expect(listed.some((path) => route.path.test(path)), `${route.method} ${route.path}`).toBe(true);
    for (const path of listed) expect(DIALECT_ROUTES.some((r) => r.path.test(path)), path).toBe(true);
    for (const fault of Object.keys(FAULT_PRESETS)) expect(help).toMatch(new RegExp(`^\\s+${fault}\\s`, 'm'));
    for (const option of ['--fail-rate', '--fail-with', '--plan', '/_mock/plan']) expect(help).toContain(option);
  });

  it('SIGTERM during 20 in-flight streams: all 20 complete, exit code 0', async () => {
    mock.setPlan({ default: { chunk_gap_ms: 60 } });
    const { child, url, output } = await serve(goodConfig());
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'client', maxRetries: 0 });
      const messages = [{ role: 'user' as const, content: 'hi' }];
      let started = 0;
      let signalled!: () => void;
      const allStarted = new Promise<void>((r) => {
        signalled = r;
      });
      const streams = Array.from({ length: 20 }, async () => {
        const stream = await client.chat.completions.create({ model: 'gpt-test', messages, stream: true });
        if (++started === 20) signalled();
        return collectText(stream);
      });
      await allStarted;
      child.kill('SIGTERM');
      const results = await Promise.all(streams);
      const answer = mock.answerFor({ model: 'mock-gpt', messages });
      for (const r of results) {
        expect(r.text).toBe(answer);
        expect(r.finish).toBe('stop');
      }
      expect(await exited).toBe(0);
      expect(output()).not.toContain(PROVIDER_KEY);
    } finally {
      mock.setPlan({});
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
