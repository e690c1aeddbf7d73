// What the A/B scripts (ab.mjs, ab-first-token.mjs) share: their arguments (two dist/ directories), their children
// dying with them, and the two sessions with the builds' start order swapped (on this kind of VM the process started
// second measured less CPU with the same build, so each build runs in both positions).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { killAll, startChild, stopChild } from './procs.mjs';
import { LISTENING, startMock, writeBenchConfig } from './setup.mjs';

/**
 * Parses the common flags (`--rounds --seconds --quick --json-only`, plus `options`) and the positionals, which
 * `accept(positionals)` must approve, else `usage` is printed and the process exits 2. Every child process dies
 * with this one, however it ends. `log` writes to stderr unless `--json-only`.
 */
export function benchArgs(usage, options, accept) {
  const { values: flags, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'json-only': { type: 'boolean', default: false },
      ...options,
    },
  });
  if (!accept(positionals)) {
    process.stderr.write(`usage: ${usage}\n`);
    process.exit(2);
  }
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      killAll();
      process.exit(1);
    });
  }
  const log = (line) => {
    if (!flags['json-only']) process.stderr.write(`${line}\n`);
  };
  return { flags, positionals, log };
}

/** `benchArgs` for `BASE_DIST NEW_DIST`: the two builds, each checked to be built. */
export function abSetup(usage, options = {}) {
  const { flags, positionals, log } = benchArgs(usage, options, (p) => p.length === 2);
  const builds = positionals.map((p, i) => ({ name: i === 0 ? 'base' : 'new', cli: join(resolve(p), 'cli.js') }));
  for (const b of builds) if (!existsSync(b.cli)) throw new Error(`${b.cli} is missing: build it first (npx tsc -p tsconfig.build.json)`);
  return { flags, builds, log };
}

/**
 * One mock (streaming a delta every `gapMs`) and the bench config pointing at it; `session(order, mock, config)`
 * runs twice, with the builds in `builds` order and then reversed.
 */
export async function inBothOrders(builds, { gapMs, by, log, note = '' }, session) {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-ab-'));
  const mock = await startMock(builds[0].cli, gapMs);
  const config = writeBenchConfig(dir, mock.url, by);
  try {
    log(`session 1 of 2: ${builds[0].name} started first${note}`);
    await session(builds, mock, config);
    log(`session 2 of 2: ${builds[1].name} started first`);
    await session([...builds].reverse(), mock, config);
  } finally {
    await stopChild(mock);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `lifeline serve` of each build in `order`, one after the other; `stopGateways` ends them. */
export async function startGateways(order, config) {
  const gateways = [];
  try {
    for (const b of order) {
      const g = await startChild(b.name, [b.cli, 'serve', '--config', config], { pattern: LISTENING });
      gateways.push({ ...b, url: g.url, pid: g.pid, proc: g });
    }
  } catch (err) {
    await stopGateways(gateways);
    throw err;
  }
  return gateways;
}

export function stopGateways(gateways) {
  return Promise.all(gateways.map((g) => stopChild(g.proc)));
}
