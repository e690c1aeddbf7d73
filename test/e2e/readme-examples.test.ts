/**
 * What a newcomer follows must work as written: the CLI's hint when no config is given, the example configs in
 * examples/, and every fenced block in README.md.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import OpenAI from 'openai';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { loadConfigFile, PROVIDER_TYPES, parseConfig } from '../../src/config/index.js';
import { configJson } from '../../src/accounting/report.js';
import { validatePlan } from '../../src/mock/index.js';
import { Deployments } from '../../src/routing/deployments.js';
import { deploymentsReport } from '../../src/server/admin.js';
import { type Block, dummyEnv, fencedBlocks, onAnyFreePort, requiredVars, shellCommands, shellWords } from '../support/readme-blocks.js';

const ROOT = join(import.meta.dirname, '..', '..');
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
    const mock = await startCli(onAnyFreePort(mockArgs!));
    try {
      const gateway = await startCli(onAnyFreePort(serveArgs!), { env: bareEnv({ LIFELINE_MOCK_URL: mock.url }) });
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

describe('examples/production.yaml', () => {
  const file = join(ROOT, 'examples', 'production.yaml');

  it('passes `lifeline check` with its keys set (dummy values), and fails naming a key that is missing', () => {
    const vars = requiredVars(readFileSync(file, 'utf8'));
    expect(vars).toEqual(expect.arrayContaining(['OPENAI_API_KEY', 'ANTHROPIC_API_KEY']));
    const ok = spawnSync(process.execPath, [CLI, 'check', '--config', file], { cwd: ROOT, env: bareEnv(dummyEnv(vars)), encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/fallbacks: /);
    for (const v of vars) expect(ok.stdout).not.toContain(`dummy-${v.toLowerCase()}`);

    const { ANTHROPIC_API_KEY: _, ...without } = dummyEnv(vars);
    expect(() => loadConfigFile(file, without)).toThrow(/ANTHROPIC_API_KEY/); // what `check` prints, exit 2
  });

  it('has a model with two targets and a fallback chain across providers, every target known to the catalog', () => {
    const config = loadConfigFile(file, dummyEnv(requiredVars(readFileSync(file, 'utf8'))));
    const types = (model: string) => config.models[model]!.targets.map((t) => config.providers[t.provider]!.type);
    const balanced = Object.values(config.models).filter((m) => m.targets.length >= 2);
    expect(balanced.length).toBeGreaterThan(0);
    const chained = balanced.find((m) => m.fallbacks.some((f) => !types(f).every((t) => types(m.name).includes(t))));
    expect(chained, 'a two-target model whose fallbacks reach another provider type').toBeDefined();
    expect([...new Set(Object.values(config.providers).map((p) => p.type))]).toEqual(expect.arrayContaining(['openai', 'anthropic']));

    // A misspelt model name would be unknown to the catalog (`lifeline models --config`): no window to fit prompts to.
    const report = configJson(config);
    for (const t of report.models.flatMap((m) => m.targets)) expect(t.catalog_id, t.model).toBeTruthy();
  });
});

// ---- every fenced block of README.md and docs/ ------------------------------------------------------------------
//
// Each block is run as written, or checked against what covers it; a block or command no rule knows fails the
// test, so a new example cannot land untested. What is swapped, and only that: the ports (4000, 9100) for free ones,
// a config's provider base_urls for the mock (a README config names real providers), `lifeline-gateway` for this
// repo's build of it (dist/, as packed; `npm test` builds it first), and dummy values for the `${VAR}`s a config needs.

const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const WORK = join(ROOT, '.lifeline', `readme-${process.pid}`); // .gitignored; inside the repo so `openai` resolves
const PACKAGE_JS = join(ROOT, 'dist', 'index.js');

/** What one document's examples have running, in the order the reader starts them. */
class Session {
  mock?: { child: ChildProcess; url: string };
  gateway?: { child: ChildProcess; url: string };
  constructor(readonly cwd: string) {}

  async close(): Promise<void> {
    for (const p of [this.gateway, this.mock]) if (p) await stop(p.child);
  }

  /** Ports as the docs write them → the ones this run listens on. */
  swapPorts(text: string): string {
    const swap = (port: string, to: string | undefined) => (t: string) => {
      if (!t.includes(`127.0.0.1:${port}`)) return t;
      if (to === undefined) throw new Error(`127.0.0.1:${port} is used before the docs start anything there`);
      return t.replaceAll(`127.0.0.1:${port}`, new URL(to).host);
    };
    return swap('9100', this.mock?.url)(swap('4000', this.gateway?.url)(text));
  }

  /**
   * A copy of a config whose providers are all this session's mock (unless the config points at the mock itself
   * through LIFELINE_MOCK_URL), and the environment it needs.
   */
  served(name: string): { path: string; env: NodeJS.ProcessEnv } {
    if (!this.mock) throw new Error(`${name} is served before the docs start a mock`);
    const text = readFileSync(join(this.cwd, name), 'utf8');
    const env: NodeJS.ProcessEnv = { ...dummyEnv(requiredVars(text)), LIFELINE_MOCK_URL: this.mock.url };
    if (text.includes('LIFELINE_MOCK_URL')) return { path: join(this.cwd, name), env };
    const origin = this.mock.url.replace(/\/v1$/, '');
    const doc = parseYaml(text) as { providers: Record<string, { type: keyof typeof PROVIDER_TYPES; base_url?: string }> };
    for (const p of Object.values(doc.providers)) {
      const family = PROVIDER_TYPES[p.type].family;
      p.base_url = family === 'gemini' ? `${origin}/v1beta` : family === 'azure' || family === 'bedrock' ? origin : this.mock.url;
    }
    const path = join(this.cwd, `served-${name}`);
    writeFileSync(path, stringifyYaml(doc));
    return { path, env };
  }
}

/** The file a command's `--config` names; undefined when it names none. */
function configArg(args: readonly string[]): string | undefined {
  const at = args.indexOf('--config');
  return at < 0 ? undefined : args[at + 1];
}

function runSync(args: string[], session: Session, env: NodeJS.ProcessEnv = {}): string {
  const res = spawnSync(process.execPath, [CLI, ...args], { cwd: session.cwd, env: bareEnv(env), encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`lifeline ${args.join(' ')} exited ${res.status}:\n${res.stderr}`);
  return res.stdout;
}

/** A curl command as written (ports swapped): a 2xx, an answer that is not an error, a stream that finished. */
function runCurl(command: string, session: Session): void {
  const body = join(session.cwd, 'curl-body');
  rmSync(body, { force: true });
  const script = `curl() { command curl -sS --max-time 60 -o "$BODY" -w '%{http_code}' "$@"; }\n${session.swapPorts(command)}`;
  const res = spawnSync('bash', ['-c', script], { cwd: session.cwd, env: { ...process.env, BODY: body }, encoding: 'utf8' });
  const text = existsSync(body) ? readFileSync(body, 'utf8') : '';
  expect(res.status, `${command}\n${res.stderr}`).toBe(0);
  expect(res.stdout, `${command}\n${text}`).toMatch(/^2\d\d$/);
  if (/\s-N\s/.test(command)) expect(text, command).toMatch(/data: \[DONE\]|event: message_stop/);
  else expect(JSON.parse(text), command).not.toHaveProperty('error');
}

const CI = readFileSync(join(ROOT, '.ci', 'run'), 'utf8');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; scripts: Record<string, string> };
const PACK_TEST = 'test/e2e/pack-install.test.ts';

/** How each shell command is covered: run here, or checked against what runs it elsewhere. First match wins. */
const SHELL_RULES: { match: RegExp; why: string; run: (command: string, s: Session, m: RegExpExecArray) => void | Promise<void> }[] = [
  { match: /^npm (ci|test|run demo)$/, why: 'CI runs it on a clean clone (.ci/run)', run: (c) => expect(CI).toContain(`\n${c}`) },
  {
    match: /^npm run (test:5x|chaos|bench)$/,
    why: 'a long run (the suite 5 times, the chaos files the suite runs too, the bench e2e/bench-smoke tries): the script exists',
    run: (_c, _s, m) => expect(PKG.scripts[m[1]!]).toBeTruthy(),
  },
  {
    match: /^(git clone <repository URL> lifeline && cd lifeline|npm ci && npm pack|cd \.\.\/my-app && npm install \.\.\/lifeline\/(\S+))$/,
    why: `${PACK_TEST} packs the package, installs the tarball offline and uses the command, npx and the import`,
    run: (_c, _s, m) => {
      expect(existsSync(join(ROOT, PACK_TEST))).toBe(true);
      expect(PKG.scripts.prepare, 'npm ci / a git install builds dist/').toBe('npm run build');
      if (m[2] !== undefined) expect(m[2]).toBe(`${PKG.name}-${PKG.version}.tgz`);
    },
  },
  {
    match: /^npx lifeline mock( |$)/,
    why: 'run',
    run: async (c, s) => {
      if (s.mock) await stop(s.mock.child);
      s.mock = await startCli(onAnyFreePort(shellWords(c).slice(2)), { cwd: s.cwd });
    },
  },
  {
    match: /^npx lifeline serve( |$)/,
    why: 'run',
    run: async (c, s) => {
      const args = onAnyFreePort(shellWords(c).slice(2));
      const config = configArg(args);
      if (config === undefined) throw new Error(`\`${c}\`: a served config is named with --config`);
      const { path, env } = s.served(config);
      args[args.indexOf(config)] = path;
      if (s.gateway) await stop(s.gateway.child);
      s.gateway = await startCli(args, { cwd: s.cwd, env: bareEnv(env) });
    },
  },
  {
    match: /^npx lifeline (check|models|--help)( |$)/,
    why: 'run',
    run: (c, s) => {
      const args = shellWords(c).slice(2);
      const config = configArg(args);
      runSync(args, s, config === undefined ? {} : dummyEnv(requiredVars(readFileSync(join(s.cwd, config), 'utf8'))));
    },
  },
  { match: /^curl /, why: 'run', run: (c, s) => runCurl(c, s) },
];

/** `lifeline-gateway` → this repo's build of it, as a path relative to `from`. */
function fromPackage(code: string, from: string): string {
  const rel = relative(from, PACKAGE_JS).replace(/\\/g, '/');
  return code.replaceAll("from 'lifeline-gateway'", `from '${rel.startsWith('.') ? rel : `./${rel}`}'`);
}

/** A TypeScript example, run in this process against this session's gateway or the mock it starts itself. */
async function runTs(block: Block, s: Session): Promise<void> {
  let code = fromPackage(s.swapPorts(block.text), s.cwd);
  let env: NodeJS.ProcessEnv = {};
  code = code.replace(/'([\w.-]+\.yaml)'/g, (_m, name: string) => {
    const served = s.served(name);
    env = served.env;
    return JSON.stringify(served.path);
  });
  const file = join(s.cwd, `${block.file.replace(/\W/g, '_')}-${block.line}.ts`);
  writeFileSync(file, code);
  const saved = { ...process.env };
  Object.assign(process.env, env);
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await import(file);
    // Each example prints what it got: an answer, not an empty line.
    expect(log.mock.calls.some((args) => args.some((a) => typeof a === 'string' && a.trim() !== '')), `${block.file}:${block.line}`).toBe(true);
  } finally {
    log.mockRestore();
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

/** `lifeline ARGS`'s stdout, without blocking this process (several can run at once). */
function cliOutput(args: string[], cwd: string): Promise<string> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: bareEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  return new Promise((resolvePromise, reject) =>
    child.once('close', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`lifeline ${args.join(' ')} exited ${code}`)))),
  );
}

/** The CLI synopsis: every command and option it shows exists (`lifeline <command> --help` lists it). */
async function checkSynopsis(block: Block, s: Session): Promise<void> {
  const lines = block.text.split('\n').filter((l) => l.startsWith('lifeline '));
  if (lines.length === 0) throw new Error(`${block.file}:${block.line}: a text block with no rule (only CLI synopses are checked)`);
  const helps = await Promise.all(
    lines.map((line) => {
      const command = line.split(/\s+/)[1]!;
      return cliOutput(command.startsWith('-') ? ['--help'] : [command, '--help'], s.cwd);
    }),
  );
  lines.forEach((line, i) => {
    for (const [, option] of line.matchAll(/\[(-{1,2}[\w-]+)/g)) expect(helps[i], line).toContain(option);
  });
}

/**
 * The JSON the docs show: a `GET /admin/deployments` answer (its rows have exactly the fields the gateway's have),
 * else a mock fault plan.
 */
function checkJson(value: Record<string, unknown>): void {
  if (!('deployments' in value)) {
    validatePlan(value);
    return;
  }
  const config = parseConfig('providers: { p: { type: openai, api_key: k } }\nmodels: { m: { targets: [{ provider: p, model: x }] } }', {}, 'admin');
  const [real] = deploymentsReport(config, new Deployments(config), Date.now()).deployments;
  for (const row of value.deployments as Record<string, unknown>[]) expect(Object.keys(row).sort()).toEqual(Object.keys(real!).sort());
}

async function runBlock(block: Block, s: Session): Promise<void> {
  const where = `${block.file}:${block.line}`;
  switch (block.lang) {
    case 'yaml':
      parseConfig(block.text, dummyEnv(requiredVars(block.text)), where); // throws on any problem
      return;
    case 'json':
      checkJson(JSON.parse(block.text) as Record<string, unknown>);
      return;
    case 'ts':
      return runTs(block, s);
    case 'text':
      return checkSynopsis(block, s);
    case 'sh':
      for (const command of shellCommands(block.text)) {
        const rule = SHELL_RULES.map((r) => ({ r, m: r.match.exec(command) })).find((x) => x.m !== null);
        if (!rule) throw new Error(`${where}: no rule runs or covers \`${command}\` (add one to SHELL_RULES)`);
        await rule.r.run(command, s, rule.m!);
      }
      return;
    default:
      throw new Error(`${where}: a \`\`\`${block.lang} block, and no rule for that language`);
  }
}

describe('the examples in README.md and docs/', () => {
  afterAll(() => rmSync(WORK, { recursive: true, force: true }));

  it("every TypeScript block type-checks against the package's types (dist/index.d.ts)", () => {
    const dir = join(WORK, 'typecheck');
    mkdirSync(dir, { recursive: true });
    const files = DOCS.flatMap((doc) => fencedBlocks(ROOT, doc))
      .filter((b) => b.lang === 'ts')
      .map((b) => {
        const name = `${b.file.replace(/\W/g, '_')}-${b.line}.ts`;
        writeFileSync(join(dir, name), b.text);
        return name;
      });
    expect(files.length).toBeGreaterThan(0);
    const up = relative(dir, ROOT).replace(/\\/g, '/');
    const compilerOptions = { noEmit: true, rootDir: up, paths: { 'lifeline-gateway': [`${up}/dist/index.d.ts`] } };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: `${up}/tsconfig.json`, compilerOptions, files, include: [] }));
    const res = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir, encoding: 'utf8' });
    // Only the blocks' own errors: the rest of the program has its own checks.
    const mine = res.stdout.split('\n').filter((l) => files.some((f) => l.includes(f)));
    expect(mine, res.stdout).toEqual([]);
  });

  it.each(DOCS)('%s: each block runs as written, or is checked against what covers it', async (doc) => {
    const s = new Session(join(WORK, doc.replace(/\W/g, '_')));
    mkdirSync(s.cwd, { recursive: true });
    symlinkSync(join(ROOT, 'examples'), join(s.cwd, 'examples'));
    const blocks = fencedBlocks(ROOT, doc);
    // A config block that names its file (`# lifeline.yaml`) is that file, for the commands around it.
    for (const b of blocks) {
      const name = /^# ([\w.-]+\.ya?ml)\s*$/m.exec(b.text.split('\n')[0] ?? '')?.[1];
      if (b.lang === 'yaml' && name) writeFileSync(join(s.cwd, name), b.text);
    }
    try {
      for (const block of blocks) await runBlock(block, s);
    } finally {
      await s.close();
    }
  });

  it('names the tarball `npm pack` writes with the package version', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const [name] of readme.matchAll(/lifeline-gateway-[\d.]+\.tgz/g)) expect(name).toBe(`${PKG.name}-${PKG.version}.tgz`);
  });
});

describe('links in README.md and docs/', () => {
  /** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
  const anchor = (heading: string) =>
    heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');

  it.each(DOCS)('%s: every relative link leads to a file that exists, and to a heading it has', (doc) => {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue; // http(s), mailto
      const [path, hash] = target!.split('#');
      const file = path === '' ? join(ROOT, doc) : resolve(dirname(join(ROOT, doc)), path!);
      expect(existsSync(file), `${doc}: ${target}`).toBe(true);
      if (hash === undefined) continue;
      const headings = [...readFileSync(file, 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => anchor(m[1]!));
      expect(headings, `${doc}: ${target}`).toContain(hash);
    }
  });
});
