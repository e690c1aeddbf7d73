import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../src/mock/faults.js';
import { STRATEGIES, type Strategy } from '../../../src/config/types.js';
import { type Candidate, orderCandidates, pickCandidate } from '../../../src/routing/balance.js';


function cand(id: string, over: Partial<Candidate> = {}): Candidate {
  return { id, weight: 1, priority: 1, inflight: 0, latencyMs: undefined, ...over };
}

function shares(strategy: Strategy, candidates: Candidate[], n: number, seed = 1): Record<string, number> {
  const rand = mulberry32(seed);
  const counts: Record<string, number> = Object.fromEntries(candidates.map((c) => [c.id, 0]));
  for (let i = 0; i < n; i++) counts[candidates[pickCandidate(strategy, candidates, rand)].id] += 1;
  return Object.fromEntries(Object.entries(counts).map(([id, k]) => [id, k / n]));
}

describe('pickCandidate', () => {
  it('returns -1 for no candidates and 0 for one, whatever the strategy', () => {
    for (const s of STRATEGIES) {
      expect(pickCandidate(s, [], Math.random)).toBe(-1);
      expect(pickCandidate(s, [cand('only', { inflight: 9, latencyMs: 900 })], Math.random)).toBe(0);
    }
  });

  it('weighted 3:1:1 spreads 60/20/20 % ± 3 % over 10,000 picks', () => {
    const s = shares('weighted', [cand('a', { weight: 3 }), cand('b'), cand('c')], 10_000);
    expect(s.a).toBeGreaterThan(0.57);
    expect(s.a).toBeLessThan(0.63);
    expect(s.b).toBeGreaterThan(0.17);
    expect(s.b).toBeLessThan(0.23);
    expect(s.c).toBeGreaterThan(0.17);
    expect(s.c).toBeLessThan(0.23);
  });

  it('weighted never picks a zero weight while another remains, and survives a bad rand', () => {
    const cs = [cand('zero', { weight: 0 }), cand('one')];
    expect(shares('weighted', cs, 1000).zero).toBe(0);
    expect(pickCandidate('weighted', cs, () => 1)).toBe(1);
    expect(pickCandidate('weighted', cs, () => Number.NaN)).toBe(1);
    expect(pickCandidate('weighted', [cand('z1', { weight: 0 }), cand('z2', { weight: 0 })], () => 0.99)).toBe(1);
  });

  it('least-busy picks the fewest in flight', () => {
    const cs = [cand('a', { inflight: 3 }), cand('b', { inflight: 1 }), cand('c', { inflight: 2 })];
    expect(shares('least-busy', cs, 1000).b).toBe(1);
  });

  it('least-busy spreads ties by weight', () => {
    const cs = [cand('a', { inflight: 1, weight: 3 }), cand('b', { inflight: 1 }), cand('c', { inflight: 5, weight: 100 })];
    const s = shares('least-busy', cs, 10_000);
    expect(s.c).toBe(0);
    expect(s.a).toBeGreaterThan(0.72);
    expect(s.a).toBeLessThan(0.78);
  });

  it('latency sends at least 80 % to the fast deployment once warm', () => {
    const s = shares('latency', [cand('fast', { latencyMs: 50 }), cand('slow', { latencyMs: 300 })], 10_000);
    expect(s.fast).toBeGreaterThanOrEqual(0.8);
  });

  it('latency picks between two of many, preferring lower latency × (in flight + 1)', () => {
    const cs = [
      cand('fast-busy', { latencyMs: 50, inflight: 9 }), // cost 500
      cand('mid', { latencyMs: 100, inflight: 0 }), // cost 100
      cand('slow', { latencyMs: 300, inflight: 0 }), // cost 300
    ];
    const s = shares('latency', cs, 10_000);
    expect(s.mid).toBeGreaterThan(0.6); // wins every pair it is in: 2 of 3 pairs
    expect(s['fast-busy']).toBe(0); // loses every pair it is in
  });

  it('latency explores a cold deployment, one request at a time', () => {
    const warm = cand('warm', { latencyMs: 50 });
    expect(shares('latency', [warm, cand('cold')], 100).cold).toBe(1);
    expect(shares('latency', [warm, cand('cold', { inflight: 1 })], 100).cold).toBe(0);
  });

  it('priority uses the best tier present, weighted within it', () => {
    const tier1 = [cand('p1a', { weight: 3 }), cand('p1b')];
    const tier2 = [cand('p2', { priority: 2, weight: 100 })];
    const s = shares('priority', [...tier2, ...tier1], 10_000);
    expect(s.p2).toBe(0);
    expect(s.p1a).toBeGreaterThan(0.72);
    expect(s.p1a).toBeLessThan(0.78);
    expect(shares('priority', tier2, 100).p2).toBe(1);
    expect(shares('priority', [cand('p3', { priority: 3 }), ...tier2], 100).p2).toBe(1);
  });
});

describe('orderCandidates', () => {
  const cs = [
    cand('a', { weight: 3, inflight: 2, latencyMs: 100 }),
    cand('b', { priority: 2, inflight: 0, latencyMs: 40 }),
    cand('c', { weight: 0, inflight: 1 }),
    cand('d', { priority: 2, latencyMs: 500, inflight: 4 }),
  ];

  it('returns a permutation for every strategy', () => {
    const rand = mulberry32(7);
    for (const s of STRATEGIES) {
      for (let i = 0; i < 50; i++) {
        const order = orderCandidates(s, cs, rand);
        expect(order.map((c) => c.id).sort()).toEqual(['a', 'b', 'c', 'd']);
      }
    }
    expect(orderCandidates('weighted', [], Math.random)).toEqual([]);
  });

  it('priority tries a whole tier before the next; least-busy goes by in flight', () => {
    const rand = mulberry32(3);
    for (let i = 0; i < 50; i++) {
      const tiers = orderCandidates('priority', cs, rand).map((c) => c.priority);
      expect(tiers).toEqual([1, 1, 2, 2]);
      expect(orderCandidates('least-busy', cs, rand).map((c) => c.id)).toEqual(['b', 'c', 'a', 'd']);
    }
  });

  it('does not mutate its input', () => {
    const copy = cs.map((c) => ({ ...c }));
    orderCandidates('latency', cs, mulberry32(1));
    expect(cs).toEqual(copy);
  });
});
