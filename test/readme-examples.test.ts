/**
 * What a newcomer follows must work as written: the CLI's hint when no config is given, the example configs in
 * examples/, and every fenced block in README.md.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../src/config/index.js';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist', 'cli.js');

/** The environment without a config: what a newcomer has before reading anything. */
function bareEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.LIFELINE_CONFIG;
  return env;
}

/**
 * Starts a long-running `lifeline` command (`npx lifeline …` in the docs: the same bin, spawned directly to skip
 * npx's start-up) and resolves with the URL it prints once it listens.
 */
function startCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, env: opts.env ?? bareEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolvePromise, reject) => {
    child.stderr!.on('data', (d) => {
      err += d;
      const m = /(?:listening on|mock on) (http:\/\/\S+)/.exec(err);
      if (m) resolvePromise({ child, url: m[1]! });
    });
    child.once('exit', (code) => reject(new Error(`lifeline ${args.join(' ')} exited ${code}:\n${err}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** The `npx lifeline …` lines of the hint, as argument lists. */
function hintCommands(stderr: string): string[][] {
  return [...stderr.matchAll(/^ {2}npx lifeline (.+)$/gm)].map((m) => m[1]!.trim().split(/\s+/));
}

describe('the CLI, started without a config', () => {
  it('says what to pass, and how to try it with no keys: commands that, followed, answer a request', async () => {
    const res = spawnSync(process.execPath, [CLI, 'serve'], { cwd: ROOT, env: bareEnv(), encoding: 'utf8' });
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/pass --config FILE or set LIFELINE_CONFIG/);
    const [mockArgs, serveArgs] = hintCommands(res.stderr);
    expect(mockArgs?.[0]).toBe('mock');
    expect(serveArgs?.[0]).toBe('serve');
    const config = serveArgs![serveArgs!.indexOf('--config') + 1]!;
    expect(existsSync(resolve(ROOT, config)), config).toBe(true);

    // As written, except for the ports: the mock's default (9100) and the gateway's (4000) may be taken here.
    // LIFELINE_MOCK_URL is the config's own way to point at a mock elsewhere (its default is 9100).
    const mock = await startCli([...mockArgs!, '--port', '0']);
    try {
      const gateway = await startCli([...serveArgs!, '--port', '0'], { env: bareEnv({ LIFELINE_MOCK_URL: mock.url }) });
      try {
        const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'anything', maxRetries: 0 });
        const { data } = await client.models.list();
        expect(data.length).toBeGreaterThan(0);
        for (const { id } of data) {
          const res = await client.chat.completions.create({ model: id, messages: [{ role: 'user', content: 'Hi' }] });
          expect(res.choices[0]?.message.content, id).toBeTruthy();
        }
      } finally {
        await stop(gateway.child);
      }
    } finally {
      await stop(mock.child);
    }
  });

  it('names a config path that exists from wherever it is run (an app with the package installed, too)', () => {
    const cwd = tmpdir();
    const res = spawnSync(process.execPath, [CLI, 'check'], { cwd, env: bareEnv(), encoding: 'utf8' });
    expect(res.status).toBe(2);
    const serveArgs = hintCommands(res.stderr).find((args) => args[0] === 'serve');
    const config = serveArgs?.[serveArgs.indexOf('--config') + 1];
    expect(config, res.stderr).toBeDefined();
    expect(existsSync(resolve(cwd, config!)), config).toBe(true);
  });
});

/** `${VAR}` references without a default: what a user must set. */
function requiredVars(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!))];
}

const dummies = (names: string[]): NodeJS.ProcessEnv => Object.fromEntries(names.map((n) => [n, `dummy-${n.toLowerCase()}`]));

describe('examples/production.yaml', () => {
  const file = join(ROOT, 'examples', 'production.yaml');

  it('passes `lifeline check` with its keys set (dummy values), and fails naming a key that is missing', () => {
    const vars = requiredVars(readFileSync(file, 'utf8'));
    expect(vars).toEqual(expect.arrayContaining(['OPENAI_API_KEY', 'ANTHROPIC_API_KEY']));
    const ok = spawnSync(process.execPath, [CLI, 'check', '--config', file], { cwd: ROOT, env: bareEnv(dummies(vars)), encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/fallbacks: /);
    for (const v of vars) expect(ok.stdout).not.toContain(`dummy-${v.toLowerCase()}`);

    const env = bareEnv(dummies(vars));
    delete env.ANTHROPIC_API_KEY;
    const missing = spawnSync(process.execPath, [CLI, 'check', '--config', file], { cwd: ROOT, env, encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('ANTHROPIC_API_KEY');
  });

  it('has a model with two targets and a fallback chain across providers, every target known to the catalog', () => {
    const config = loadConfigFile(file, dummies(requiredVars(readFileSync(file, 'utf8'))));
    const types = (model: string) => config.models[model]!.targets.map((t) => config.providers[t.provider]!.type);
    const balanced = Object.values(config.models).filter((m) => m.targets.length >= 2);
    expect(balanced.length).toBeGreaterThan(0);
    const chained = balanced.find((m) => m.fallbacks.some((f) => !types(f).every((t) => types(m.name).includes(t))));
    expect(chained, 'a two-target model whose fallbacks reach another provider type').toBeDefined();
    expect([...new Set(Object.values(config.providers).map((p) => p.type))]).toEqual(expect.arrayContaining(['openai', 'anthropic']));

    const res = spawnSync(process.execPath, [CLI, 'models', '--config', file, '--json'], {
      cwd: ROOT,
      env: bareEnv(dummies(requiredVars(readFileSync(file, 'utf8')))),
      encoding: 'utf8',
    });
    expect(res.status, res.stderr).toBe(0);
    // A misspelt model name would show as unknown to the catalog: no context window to fit prompts to.
    const report = JSON.parse(res.stdout) as { models: { targets: { model: string; catalog_id: string | null }[] }[] };
    for (const t of report.models.flatMap((m) => m.targets)) expect(t.catalog_id, t.model).toBeTruthy();
  });
});
