import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configChanges } from '../../../src/config/diff.js';
import { resolveConfig } from '../../../src/config/index.js';
import type { Config } from '../../../src/config/types.js';
import { Deployments } from '../../../src/routing/deployments.js';
import { LogSecrets, transportReusable } from '../../../src/server/reload.js';
import { watchFile } from '../../../src/server/watch.js';

/**
 * Config reload without sockets: what a new config changes, which deployments keep their state, when the upstream
 * pools can stay, the log scrub across reloads, and the file watcher's debounce and re-arm.
 */

const T0 = 1_700_000_000_000;
const KEY_A = 'sk-key-aaaaaaaaaaaaaaaaaaaa';
const KEY_B = 'sk-key-bbbbbbbbbbbbbbbbbbbb';

function config(over: { keyA?: string; proxyA?: string; models?: Record<string, unknown>; extra?: Record<string, unknown> } = {}): Config {
  return resolveConfig({
    providers: {
      a: { type: 'openai', api_key: over.keyA ?? KEY_A, base_url: 'http://127.0.0.1:1/v1', ...(over.proxyA ? { proxy: over.proxyA } : {}) },
      b: { type: 'openai', api_key: KEY_B, base_url: 'http://127.0.0.1:2/v1' },
    },
    models: over.models ?? {
      m: { targets: [{ provider: 'a', model: 'x' }, { provider: 'b', model: 'x' }] },
    },
    ...over.extra,
  });
}

describe('configChanges', () => {
  it('names added, removed and changed models and deployments, and changed sections', () => {
    const before = config();
    const after = config({
      keyA: 'sk-key-rotated-cccccccccccc',
      models: {
        m: { targets: [{ provider: 'a', model: 'x' }, { provider: 'b', model: 'x', weight: 3 }] },
        n: { targets: [{ provider: 'b', model: 'y' }] },
      },
      extra: { retry: { max_attempts: 5 }, server: { port: 4100 } },
    });
    const c = configChanges(before, after);
    expect(c.models).toEqual({ added: ['n'], removed: [], changed: ['m'] });
    // A target's weight is routing, not the deployment: b/x keeps its state; a's key changed, so a/x does not.
    expect(c.deployments).toEqual({ added: ['b/y'], removed: [], changed: ['a/x'], unchanged: ['b/x'] });
    expect(c.settings).toEqual(['retry']);
    expect(c.restart).toEqual(['server.port']);
    expect(configChanges(after, before).deployments.removed).toEqual(['b/y']);
  });

  it('finds nothing between two loads of the same config', () => {
    const c = configChanges(config(), config());
    expect(c.models).toEqual({ added: [], removed: [], changed: [] });
    expect(c.deployments.changed).toEqual([]);
    expect(c.settings).toEqual([]);
    expect(c.restart).toEqual([]);
  });
});

describe('Deployments.carryTo', () => {
  it('keeps an unchanged deployment state (the same object: old requests and new share it) and starts a changed one fresh', () => {
    const before = config();
    const old = new Deployments(before);
    old.health('a/x').recordFailure(T0, 'auth');
    old.health('b/x').recordFailure(T0, 'rate_limited', 60_000);
    const budget = old.budget('b/x');

    const same = config();
    const kept = old.carryTo(same, configChanges(before, same).deployments.unchanged);
    expect(kept.health('a/x')).toBe(old.health('a/x'));
    expect(kept.health('a/x').availability(T0).state).toBe('disabled');
    expect(kept.health('b/x').availability(T0 + 1_000).state).toBe('rate_limited');
    expect(kept.budget('b/x')).toBe(budget);

    const rotated = config({ keyA: 'sk-key-rotated-cccccccccccc' });
    const fresh = old.carryTo(rotated, configChanges(before, rotated).deployments.unchanged);
    expect(fresh.health('a/x').availability(T0).state).toBe('healthy');
    expect(fresh.health('b/x').availability(T0 + 1_000).state).toBe('rate_limited');
  });

  it('under a new health policy: an open breaker, a disabled key and latency go on, with the new cooldown', () => {
    const before = config({ extra: { health: { failure_threshold: 2, cooldown_s: 30 } } });
    const old = new Deployments(before);
    const h = old.health('b/x');
    h.recordSuccess(T0, 250);
    h.recordFailure(T0, 'server');
    h.recordFailure(T0, 'server');
    expect(h.availability(T0).state).toBe('open');
    old.health('a/x').disable('upstream rejected credentials');

    const after = config({ extra: { health: { failure_threshold: 2, cooldown_s: 5 } } });
    const next = old.carryTo(after, configChanges(before, after).deployments.unchanged);
    const moved = next.health('b/x');
    expect(moved).not.toBe(h);
    expect(moved.policy.cooldown_s).toBe(5);
    expect(moved.availability(T0 + 1_000).state).toBe('open');
    expect(moved.availability(T0 + 6_000).state).toBe('half_open');
    expect(moved.latency(T0)).toBe(250);
    expect(next.health('a/x').availability(T0).state).toBe('disabled');
  });
});

describe('transportReusable', () => {
  it('keeps the pools unless a provider changed its proxy', () => {
    expect(transportReusable(config(), config({ keyA: 'sk-key-rotated-cccccccccccc' }))).toBe(true);
    expect(transportReusable(config(), config({ proxyA: 'http://127.0.0.1:3128' }))).toBe(false);
  });
});

describe('LogSecrets', () => {
  it('scrubs the keys of every config loaded so far, the old with the new', () => {
    const secrets = new LogSecrets(config());
    secrets.add(config({ keyA: 'sk-key-rotated-cccccccccccc' }));
    const line = secrets.scrubUntrusted(`old ${KEY_A.slice(3)} new cccccccccccc-rotated ${'sk-key-rotated-cccccccccccc'.slice(4)}`);
    expect(line).not.toContain(KEY_A.slice(3));
    expect(line).not.toContain('rotated-cccccccc');
  });
});

describe('watchFile', () => {
  const until = async (what: string, ok: () => boolean): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('turns a burst of writes into one call, and follows a file replaced by a rename', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-watch-'));
    const file = join(dir, 'lifeline.yaml');
    writeFileSync(file, 'a: 1\n');
    let calls = 0;
    const watcher = watchFile(file, () => calls++, { debounceMs: 100 });
    try {
      for (let i = 0; i < 5; i++) writeFileSync(file, `a: ${i}\n`);
      await until('one call for the burst', () => calls >= 1);
      await new Promise((r) => setTimeout(r, 300));
      expect(calls).toBe(1);

      // An editor's save: a new file renamed over the watched one. Then a plain write to the new file.
      writeFileSync(join(dir, 'tmp.yaml'), 'a: 2\n');
      renameSync(join(dir, 'tmp.yaml'), file);
      await until('a call for the replaced file', () => calls >= 2);
      await new Promise((r) => setTimeout(r, 300));
      const afterRename = calls;
      writeFileSync(file, 'a: 3\n');
      await until('a call for a write to the new file', () => calls > afterRename);

      // Gone for a while, then back.
      rmSync(file);
      await new Promise((r) => setTimeout(r, 300));
      const whileGone = calls;
      writeFileSync(file, 'a: 4\n');
      await until('a call once the file is back', () => calls > whileGone);
    } finally {
      watcher.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
