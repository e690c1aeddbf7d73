import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfigFile } from '../../src/config/index.js';
import { startMock, type MockServer } from '../../src/mock/index.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { Transport } from '../../src/transport/index.js';
import { connectProxy } from '../support/connect-proxy.js';
import { collectText, memoryLogger } from '../support/helpers.js';
import { eventually } from '../support/timing.js';

/**
 * Config reload, as an operator and the clients see it: `POST /admin/reload` (and SIGHUP, and `--watch`) serves new
 * requests with the edited file, a bad file changes nothing, a stream already running finishes where it started,
 * and a deployment's health (a key the upstream rejected, an open breaker) survives a reload that did not change it.
 */

const KEY_A = 'sk-a-key-0123456789abcdefghij';
const KEY_A2 = 'sk-a-key-rotated-9876543210zyx';
const KEY_B = 'sk-b-key-0123456789abcdefghij';
const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');

let mockA: MockServer;
let mockB: MockServer;
let dir: string;
let running: { server: RunningServer; lines: string[] } | undefined;

beforeAll(async () => {
  mockA = await startMock({ reply: 'answer from upstream A' });
  mockB = await startMock({ reply: 'answer from upstream B' });
  dir = mkdtempSync(join(tmpdir(), 'lifeline-reload-'));
});
afterAll(async () => {
  await Promise.all([mockA.close(), mockB.close()]);
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await running?.server.shutdown();
  running = undefined;
  mockA.reset();
  mockB.reset();
});

/** A config: providers a (mock A) and b (mock B), the given models, and any extra YAML at the top. */
function yaml(models: string, opts: { keyA?: string; extra?: string } = {}): string {
  // Port 0 unless the extra YAML sets the server section itself: the default, 4000, clashed with a second suite
  // running beside this one (npm run test:5x).
  const server = opts.extra?.includes('server:') ? '' : 'server: { port: 0 }';
  return `${server}
${opts.extra ?? ''}
providers:
  a: { type: openai, api_key: ${opts.keyA ?? KEY_A}, base_url: ${mockA.url} }
  b: { type: openai, api_key: ${KEY_B}, base_url: ${mockB.url} }
models:
${models}
`;
}

let files = 0;
function configFile(text: string): string {
  const file = join(dir, `lifeline-${++files}.yaml`);
  writeFileSync(file, text);
  return file;
}

async function serve(file: string): Promise<{ server: RunningServer; lines: string[]; client: OpenAI }> {
  const { logger, lines } = memoryLogger();
  const server = await startServer(loadConfigFile(file), { logger, reloadFrom: () => loadConfigFile(file) });
  running = { server, lines };
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'client-key', maxRetries: 0, timeout: 20_000 });
  return { server, lines, client };
}

/** `POST /admin/reload`'s body: a success's fields, or an error's (typed as present: a test reads the one it expects). */
interface ReloadBody {
  status: string;
  changed: {
    models: { added: string[]; removed: string[]; changed: string[] };
    deployments: { added: string[]; removed: string[]; changed: string[]; kept: number };
  };
  error: { code: string; message: string; issues: string[] };
}

async function reload(url: string): Promise<{ status: number; body: ReloadBody }> {
  const res = await fetch(`${url}/admin/reload`, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as ReloadBody };
}

async function ask(client: OpenAI, model: string): Promise<{ text: string; deployment: string | null }> {
  const { data, response } = await client.chat.completions
    .create({ model, messages: [{ role: 'user', content: 'hi' }] })
    .withResponse();
  return { text: data.choices[0]?.message.content ?? '', deployment: response.headers.get('x-lifeline-deployment') };
}

/** Requests each mock received for the chat route. */
function chats(mock: MockServer): number {
  return mock.stats().records.filter((r) => r.path.endsWith('/chat/completions')).length;
}

describe('POST /admin/reload', () => {
  it('serves an added model and a changed target with the edited file', async () => {
    const file = configFile(yaml('  m1: { targets: [{ provider: a, model: model-a }] }'));
    const { server, client, lines } = await serve(file);
    expect(await ask(client, 'm1')).toEqual({ text: 'answer from upstream A', deployment: 'a/model-a' });
    await expect(ask(client, 'm2')).rejects.toMatchObject({ status: 404 });

    writeFileSync(
      file,
      yaml(`  m1: { targets: [{ provider: b, model: model-b }] }
  m2: { targets: [{ provider: b, model: model-b2 }] }`),
    );
    const res = await reload(server.url);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('reloaded');
    expect(res.body.changed.models).toEqual({ added: ['m2'], removed: [], changed: ['m1'] });
    expect(res.body.changed.deployments).toMatchObject({ added: ['b/model-b', 'b/model-b2'], removed: ['a/model-a'] });

    expect(await ask(client, 'm1')).toEqual({ text: 'answer from upstream B', deployment: 'b/model-b' });
    expect(await ask(client, 'm2')).toEqual({ text: 'answer from upstream B', deployment: 'b/model-b2' });
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(['m1', 'm2']);
    expect(chats(mockA)).toBe(1);
    expect(lines.some((l) => l.includes('"msg":"config reloaded"'))).toBe(true);

    // The same file again: nothing to swap.
    expect((await reload(server.url)).body.status).toBe('unchanged');
  });

  it('a bad file: 400 with every problem, logged, and the running config keeps serving', async () => {
    const file = configFile(yaml('  m1: { targets: [{ provider: a, model: model-a }] }'));
    const { server, client, lines } = await serve(file);
    writeFileSync(
      file,
      yaml(`  m1: { targets: [{ provider: nowhere, model: model-a }] }
  m2: { targets: [{ provider: b, model: model-b }], strategy: fastest }`),
    );
    const res = await reload(server.url);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_config');
    expect(res.body.error.issues).toHaveLength(2);
    expect(res.body.error.issues.join('\n')).toMatch(/nowhere/);
    expect(res.body.error.issues.join('\n')).toMatch(/strategy/);
    expect(res.body.error.message).toContain(file);

    expect(await ask(client, 'm1')).toEqual({ text: 'answer from upstream A', deployment: 'a/model-a' });
    await expect(ask(client, 'm2')).rejects.toMatchObject({ status: 404 });
    const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.msg.startsWith('config reload failed'));
    expect(logged?.level).toBe(50);
    expect(logged?.msg).toMatch(/nowhere/);
  });

  it('a stream started before the reload finishes on the old deployment; new requests go to the new one', async () => {
    mockA.setPlan({ default: { chunk_gap_ms: 150 } });
    const file = configFile(yaml('  m1: { targets: [{ provider: a, model: model-a }] }'));
    const { server, client } = await serve(file);
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'm1', messages: [{ role: 'user', content: 'hi' }], stream: true })
      .withResponse();
    expect(response.headers.get('x-lifeline-deployment')).toBe('a/model-a');
    const it = stream[Symbol.asyncIterator]();
    let text = '';
    for (let i = 0; i < 2; i++) text += (await it.next()).value?.choices[0]?.delta.content ?? '';
    expect(server.inflight()).toBe(1);

    writeFileSync(file, yaml('  m1: { targets: [{ provider: b, model: model-b }] }'));
    expect((await reload(server.url)).status).toBe(200);
    expect(server.inflight()).toBe(1); // the stream is still running
    expect(await ask(client, 'm1')).toEqual({ text: 'answer from upstream B', deployment: 'b/model-b' });

    const rest = await collectText({ [Symbol.asyncIterator]: () => it });
    expect(text + rest.text).toBe('answer from upstream A');
    expect(rest.finish).toBe('stop');
    expect(chats(mockA)).toBe(1);
    // The old engine is done; the new one still answers on the same pools.
    expect(await ask(client, 'm1')).toEqual({ text: 'answer from upstream B', deployment: 'b/model-b' });
  });

  it('a provider given a proxy gets new upstream pools; the old ones close once the stream still using them ends', async () => {
    const proxy = await connectProxy();
    const close = vi.spyOn(Transport.prototype, 'close');
    try {
      mockA.setPlan({ default: { chunk_gap_ms: 150 } });
      const file = configFile(yaml('  m1: { targets: [{ provider: a, model: model-a }] }'));
      const { server, client } = await serve(file);
      const stream = await client.chat.completions.create({ model: 'm1', messages: [{ role: 'user', content: 'hi' }], stream: true });
      const it = stream[Symbol.asyncIterator]();
      const first = (await it.next()).value?.choices[0]?.delta.content ?? '';

      writeFileSync(file, yaml('  m1: { targets: [{ provider: a, model: model-a }] }').replace(`base_url: ${mockA.url} }`, `base_url: ${mockA.url}, proxy: ${proxy.url} }`));
      expect((await reload(server.url)).body.changed.deployments.changed).toEqual(['a/model-a']);
      expect(close).not.toHaveBeenCalled(); // the stream still reads from the old pools
      mockA.setPlan({});
      expect((await ask(client, 'm1')).deployment).toBe('a/model-a');
      expect(proxy.tunnels).toHaveLength(1); // the new request went through the proxy

      const rest = await collectText({ [Symbol.asyncIterator]: () => it });
      expect(first + rest.text).toBe('answer from upstream A');
      expect(await eventually(() => close.mock.calls.length === 1)).toBe(true);
    } finally {
      close.mockRestore();
      await proxy.close();
    }
  });

  it('a key the upstream rejected stays out after a reload that kept it, and is back once the key changes', async () => {
    mockA.setPlan({ default: { status: 401 } });
    const models = '  m: { strategy: priority, targets: [{ provider: a, model: model-a, priority: 1 }, { provider: b, model: model-b, priority: 2 }] }';
    const file = configFile(yaml(models));
    const { server, client } = await serve(file);
    expect((await ask(client, 'm')).deployment).toBe('b/model-b'); // a answered 401: out of rotation
    expect(chats(mockA)).toBe(1);
    mockA.setPlan({}); // the upstream would take the key now: it does not matter, the gateway does not try it

    writeFileSync(file, yaml(`${models}\n  other: { targets: [{ provider: b, model: model-b }] }`));
    const kept = await reload(server.url);
    expect(kept.body.changed.deployments).toMatchObject({ changed: [], kept: 2 });
    expect((await ask(client, 'm')).deployment).toBe('b/model-b');
    expect(chats(mockA)).toBe(1);

    writeFileSync(file, yaml(models, { keyA: KEY_A2 }));
    const rotated = await reload(server.url);
    expect(rotated.body.changed.deployments.changed).toEqual(['a/model-a']);
    expect(await ask(client, 'm')).toEqual({ text: 'answer from upstream A', deployment: 'a/model-a' });
    expect(mockA.stats().records.at(-1)?.headers.authorization).toBe(`Bearer ${KEY_A2}`);
  });

  it('an open breaker stays open across a reload that kept its deployment; a changed deployment starts closed', async () => {
    mockA.setPlan({ default: { status: 500 } });
    const models = '  m: { strategy: priority, targets: [{ provider: a, model: model-a, priority: 1 }, { provider: b, model: model-b, priority: 2 }] }';
    const health = 'health: { failure_threshold: 2, cooldown_s: 600 }';
    const file = configFile(yaml(models, { extra: health }));
    const { server, client } = await serve(file);
    for (let i = 0; i < 3; i++) expect((await ask(client, 'm')).deployment).toBe('b/model-b');
    const failed = chats(mockA);
    expect(failed).toBeGreaterThanOrEqual(2);
    expect((await ask(client, 'm')).deployment).toBe('b/model-b');
    expect(chats(mockA)).toBe(failed); // open: not tried
    mockA.setPlan({});

    writeFileSync(file, yaml(`${models}\n  other: { targets: [{ provider: b, model: model-b }] }`, { extra: health }));
    expect((await reload(server.url)).body.status).toBe('reloaded');
    expect((await ask(client, 'm')).deployment).toBe('b/model-b');
    expect(chats(mockA)).toBe(failed);

    // A new header for provider a: another deployment as far as health goes, so its breaker starts closed.
    writeFileSync(
      file,
      yaml(models, { extra: health }).replace(`base_url: ${mockA.url} }`, `base_url: ${mockA.url}, headers: { x-team: blue } }`),
    );
    expect((await reload(server.url)).body.changed.deployments.changed).toEqual(['a/model-a']);
    expect((await ask(client, 'm')).deployment).toBe('a/model-a');
  });

  it('is not served when the gateway listens beyond loopback', async () => {
    const file = configFile(yaml('  m1: { targets: [{ provider: a, model: model-a }] }', { extra: 'server: { host: 0.0.0.0, port: 0 }' }));
    const { server } = await serve(file);
    const port = new URL(server.url).port;
    const res = await reload(`http://127.0.0.1:${port}`);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('admin_loopback_only');
  });
});

describe('lifeline serve', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    child = undefined;
  });

  /** `lifeline serve` on `file` (with any extra flags); resolves once it listens. */
  function spawnServe(file: string, flags: string[] = []): Promise<{ url: string; output: () => string }> {
    if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: npx tsc -p tsconfig.build.json');
    child = spawn(process.execPath, [CLI, 'serve', '--config', file, '--port', '0', ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    return new Promise((resolve, reject) => {
      child!.stderr!.on('data', (d) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve({ url: m[1]!, output: () => out });
      });
      child!.once('exit', (code, signal) => reject(new Error(`serve exited (${code ?? signal}): ${out}`)));
    });
  }

  const clientFor = (url: string) => new OpenAI({ baseURL: `${url}/v1`, apiKey: 'client-key', maxRetries: 0, timeout: 20_000 });

  it('reloads on SIGHUP (and lives on)', async () => {
    const file = configFile(yaml('  m1: { targets: [{ provider: a, model: model-a }] }'));
    const { url, output } = await spawnServe(file);
    const client = clientFor(url);
    expect((await ask(client, 'm1')).deployment).toBe('a/model-a');

    writeFileSync(file, yaml('  m1: { targets: [{ provider: b, model: model-b }] }'));
    child!.kill('SIGHUP');
    expect(await eventually(() => output().includes('config reloaded'), 10_000)).toBe(true);
    expect(child!.exitCode).toBe(null);
    expect(await ask(client, 'm1')).toEqual({ text: 'answer from upstream B', deployment: 'b/model-b' });
  });

  it('--watch picks up an edit of the file, and a bad edit leaves the running config serving', async () => {
    const file = configFile(yaml('  m1: { targets: [{ provider: a, model: model-a }] }'));
    const { url, output } = await spawnServe(file, ['--watch']);
    const client = clientFor(url);
    expect((await ask(client, 'm1')).deployment).toBe('a/model-a');

    writeFileSync(file, 'models: { m1: { targets: [{ provider: nowhere, model: x }] } }\n');
    expect(await eventually(() => output().includes('config reload failed'), 10_000)).toBe(true);
    expect((await ask(client, 'm1')).deployment).toBe('a/model-a');

    writeFileSync(file, yaml('  m1: { targets: [{ provider: b, model: model-b }] }'));
    expect(await eventually(() => output().includes('config reloaded'), 10_000)).toBe(true);
    expect(await ask(client, 'm1')).toEqual({ text: 'answer from upstream B', deployment: 'b/model-b' });
  });
});
