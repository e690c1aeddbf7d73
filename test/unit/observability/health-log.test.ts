import { describe, expect, it } from 'vitest';
import { transitionLogger } from '../../../src/observability/health-log.js';
import { resolveConfig } from '../../../src/config/index.js';
import { Deployments } from '../../../src/routing/deployments.js';
import { DeploymentHealth, type HealthTransition, HealthRegistry } from '../../../src/routing/health.js';
import { memoryLogger } from '../../support/helpers.js';

const POLICY = { failure_threshold: 2, failure_ratio: 1, min_requests: 100, window_s: 10, cooldown_s: 1 };

describe('breaker and rotation transitions', () => {
  it('open, half-open (when the trial goes through), open again, half-open, closed: each once, as it happens', () => {
    const seen: HealthTransition[] = [];
    const h = new DeploymentHealth('p/m', POLICY);
    h.listener = (t) => seen.push(t);
    h.recordFailure(0, 'server');
    expect(seen).toEqual([]);
    h.recordFailure(1, 'server');
    expect(seen).toEqual([{ deployment: 'p/m', to: 'open', reason: '2 consecutive failures (last: server)' }]);
    h.recordFailure(2, 'server'); // a straggler while open: nothing new
    expect(h.tryAcquire(500)).toBe(false);
    expect(h.tryAcquire(1001)).toBe(true);
    expect(seen.map((t) => t.to)).toEqual(['open', 'half_open']);
    expect(h.tryAcquire(1002)).toBe(false); // the trial is out: no second half_open
    h.recordFailure(1003, 'timeout');
    h.release();
    expect(seen.at(-1)).toEqual({ deployment: 'p/m', to: 'open', reason: 'half-open probe failed (timeout)' });
    expect(h.tryAcquire(2004)).toBe(true);
    h.recordSuccess(2005, 10);
    expect(seen.map((t) => t.to)).toEqual(['open', 'half_open', 'open', 'half_open', 'closed']);
  });

  it('disabled once, however many times its key is rejected', () => {
    const seen: HealthTransition[] = [];
    const h = new DeploymentHealth('p/m', POLICY);
    h.listener = (t) => seen.push(t);
    h.recordFailure(0, 'auth');
    h.recordFailure(1, 'auth');
    expect(seen).toEqual([{ deployment: 'p/m', to: 'disabled', reason: 'upstream rejected credentials' }]);
  });

  it('a registry hands its listener to every deployment, made before or after, and to those it adopts', () => {
    const seen: string[] = [];
    const r = new HealthRegistry(() => POLICY);
    const before = r.get('a/1');
    r.listen((t) => seen.push(`${t.deployment} ${t.to}`));
    const after = r.get('b/2');
    const other = new HealthRegistry(() => ({ ...POLICY, cooldown_s: 5 }));
    other.listen((t) => seen.push(`adopted ${t.deployment} ${t.to}`));
    other.adopt(new DeploymentHealth('c/3', POLICY));
    for (const h of [before, after, other.get('c/3')]) h.disable('test');
    expect(seen).toEqual(['a/1 disabled', 'b/2 disabled', 'adopted c/3 disabled']);
  });

  it('back in rotation: a disabled deployment that a reload starts fresh (its provider changed), not one it keeps or drops', () => {
    const config = (key: string, models: Record<string, string>) =>
      resolveConfig({ providers: { p: { type: 'openai', api_key: key } }, models: Object.fromEntries(Object.entries(models).map(([m, x]) => [m, { targets: [{ provider: 'p', model: x }] }])) });
    const seen: string[] = [];
    const before = new Deployments(config('k1', { a: 'x', b: 'y' }));
    before.listen((t) => seen.push(`${t.deployment} ${t.to}`));
    before.health('p/x').disable('upstream rejected credentials');
    before.health('p/y').disable('upstream rejected credentials');
    before.carryTo(config('k1', { a: 'x', b: 'y' }), ['p/x', 'p/y']); // kept: still out
    before.carryTo(config('k2', { a: 'x' }), []); // p/x starts fresh; p/y is gone
    expect(seen).toEqual(['p/x disabled', 'p/y disabled', 'p/x enabled']);
  });

  it('the log lines: opened and disabled at warn, half-open and closed at info', () => {
    const { logger, lines } = memoryLogger();
    const log = transitionLogger(logger);
    log({ deployment: 'p/m', to: 'open', reason: '5 consecutive failures (last: server)' });
    log({ deployment: 'p/m', to: 'half_open' });
    log({ deployment: 'p/m', to: 'closed' });
    log({ deployment: 'p/m', to: 'disabled', reason: 'upstream rejected credentials' });
    log({ deployment: 'p/m', to: 'enabled', reason: 'its provider config changed' });
    const parsed = lines.map((l) => JSON.parse(l) as { level: number; msg: string; deployment: string; breaker?: string; rotation?: string });
    expect(parsed.map((l) => [l.level, l.breaker ?? l.rotation, l.deployment])).toEqual([
      [40, 'open', 'p/m'],
      [30, 'half_open', 'p/m'],
      [30, 'closed', 'p/m'],
      [40, 'disabled', 'p/m'],
      [30, 'enabled', 'p/m'],
    ]);
    expect(parsed[0]!.msg).toBe('circuit opened for p/m: 5 consecutive failures (last: server)');
  });
});
