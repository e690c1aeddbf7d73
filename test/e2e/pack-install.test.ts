/**
 * The package as a user gets it: `npm pack`, then installed into an empty folder with no registry (offline) and
 * used from there — the `lifeline` command, `npx lifeline-gateway`, and the library import with its types.
 *
 * Offline: the folder gets a lockfile made from this repo's (the production dependencies, pinned to the exact
 * tarballs `npm ci` already put in npm's cache), so `npm ci --offline` needs nothing the machine does not have.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type MockServer } from '../../src/mock/index.js';
import { PROVIDER_KEY } from '../support/helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let dir: string;
let app: string;
let mock: MockServer;

interface Lock {
  packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
}

function run(cmd: string, args: string[], cwd: string, timeout = 120_000): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  mock = await startMock();
  dir = mkdtempSync(join(tmpdir(), 'lifeline-pack-'));
  // dist/ is built by `npm test`'s pretest; --ignore-scripts so packing does not build it again.
  run(NPM, ['pack', '--ignore-scripts', '--pack-destination', dir], ROOT);
  const tarball = join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lock;

  app = join(dir, 'app');
  const manifest = { name: 'some-app', version: '1.0.0', private: true, type: 'module', dependencies: { 'lifeline-gateway': `file:${tarball}` } };
  const packages: Record<string, unknown> = { '': manifest };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path.startsWith('node_modules/') && !entry.dev && !entry.devOptional) packages[path] = entry;
  }
  packages['node_modules/lifeline-gateway'] = {
    version: pkg.version,
    resolved: `file:${tarball}`,
    license: pkg.license,
    dependencies: pkg.dependencies,
    bin: pkg.bin,
    engines: pkg.engines,
  };
  run('mkdir', ['-p', app], dir);
  writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(join(app, 'package-lock.json'), JSON.stringify({ name: manifest.name, version: manifest.version, lockfileVersion: 3, requires: true, packages }, null, 2));
  run(NPM, ['ci', '--offline'], app);
}, 180_000);

afterAll(async () => {
  await mock?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function configFile(): string {
  const file = join(app, 'lifeline.yaml');
  writeFileSync(
    file,
    `providers:
  upstream: { type: openai, api_key: \${TEST_KEY}, base_url: ${mock.url} }
models:
  gpt-test: { targets: [{ provider: upstream, model: mock-gpt }] }
`,
  );
  return file;
}

/** Starts a server command in the app folder and resolves with its URL once it says it listens. */
function serve(cmd: string, args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(cmd, args, { cwd: app, env: { ...process.env, TEST_KEY: PROVIDER_KEY }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      err += d;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve({ child, url: m[1]! });
    });
    child.once('exit', (code) => reject(new Error(`${cmd} exited ${code} before listening:\n${err}`)));
  });
}

function runAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(cmd, args, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

async function chat(url: string): Promise<{ status: number; body: { choices?: { message: { content: string } }[] } }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'hello' }] }),
  });
  return { status: res.status, body: (await res.json()) as { choices?: { message: { content: string } }[] } };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

describe('the packed package, installed offline into an empty folder', () => {
  it('gives a working `lifeline` command', async () => {
    const help = run(join(app, 'node_modules', '.bin', 'lifeline'), ['--help'], app);
    expect(help).toMatch(/Usage: lifeline/);
    expect(help).toMatch(/serve/);
    const { child, url } = await serve(join(app, 'node_modules', '.bin', 'lifeline'), ['serve', '--config', configFile(), '--port', '0']);
    try {
      const res = await chat(url);
      expect(res.status).toBe(200);
      expect(res.body.choices?.[0]?.message.content).toBeTruthy();
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  it('runs with `npx lifeline-gateway serve`', async () => {
    const { child, url } = await serve('npx', ['--offline', 'lifeline-gateway', 'serve', '--config', configFile(), '--port', '0']);
    try {
      expect((await chat(url)).status).toBe(200);
    } finally {
      await stop(child);
    }
  });

  it('imports as a library, with its types', async () => {
    writeFileSync(
      join(app, 'use.ts'),
      `import { createGateway, type Gateway } from 'lifeline-gateway';
declare const process: { env: Record<string, string | undefined>; argv: string[] }; // no @types/node in this app
const gateway: Gateway = createGateway({
  providers: { upstream: { type: 'openai', api_key: process.env.TEST_KEY, base_url: process.argv[2] } },
  models: { 'gpt-test': { targets: [{ provider: 'upstream', model: 'mock-gpt' }] } },
});
const res = await gateway.fetch('http://lifeline.local/v1/chat/completions', {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] }),
});
const body = (await res.json()) as { choices?: { message: { content: string } }[] };
console.log(JSON.stringify({ status: res.status, text: body.choices?.[0]?.message.content, body }));
await gateway.close();
`,
    );
    const compilerOptions = { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, skipLibCheck: true, types: [], outDir: 'out' };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['use.ts'] }));
    // The types are the package's own .d.ts: a wrong call does not compile.
    writeFileSync(join(app, 'typo.ts'), `import { createGateway } from 'lifeline-gateway';\ncreateGateway(42);\n`);
    writeFileSync(join(app, 'tsconfig.typo.json'), JSON.stringify({ compilerOptions: { ...compilerOptions, noEmit: true }, files: ['typo.ts'] }));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const typo = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.typo.json'], { cwd: app, encoding: 'utf8' });
    expect(typo.status).not.toBe(0);
    expect(typo.stdout).toMatch(/typo\.ts.*not assignable/s);
    run(process.execPath, [tsc, '-p', '.'], app);
    // Not spawnSync: the mock answering it runs in this process.
    const out = await runAsync(process.execPath, [join(app, 'out', 'use.js'), mock.url], { ...process.env, TEST_KEY: PROVIDER_KEY });
    expect(out.code, out.stderr).toBe(0);
    const line = out.stdout.split('\n').find((l) => l.startsWith('{"status"'));
    expect(JSON.parse(line ?? '{}'), out.stdout).toMatchObject({ status: 200, text: expect.any(String) });
  });
});
