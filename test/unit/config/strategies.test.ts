import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../src/config/index.js';
import { DEFAULTS } from '../../../src/config/schema.js';
import { STRATEGIES } from '../../../src/config/types.js';
import { type Candidate, pickCandidate } from '../../../src/routing/balance.js';

const root = new URL('../../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

/** The strategy names a text describes: each written as `name` (what it does). */
function described(text: string): string[] {
  return [...text.matchAll(/`([a-z-]+)` \(/g)].map((m) => m[1] as string).sort();
}

const config = (strategy: string) => `
providers: { p: { type: openai } }
models: { a: { strategy: ${strategy}, targets: [{ provider: p, model: m }] } }
`;

describe('balancing strategies: declared once (config/types.ts STRATEGIES)', () => {
  it('the config accepts exactly those names, and lists them when one is wrong', () => {
    for (const s of STRATEGIES) expect(parseConfig(config(s), {}).models.a?.strategy).toBe(s);
    try {
      parseConfig(config('fastest'), {});
      expect.unreachable('fastest is not a strategy');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues.join('\n')).toContain(`valid: ${STRATEGIES.join(', ')}`);
    }
    expect(STRATEGIES).toContain(DEFAULTS.strategy);
  });

  it('routing implements each of them', () => {
    const candidates: Candidate[] = [{ id: 'a', weight: 1, priority: 1, inflight: 0, latencyMs: undefined }];
    for (const s of STRATEGIES) expect(pickCandidate(s, candidates, () => 0.5)).toBe(0);
  });

  it('the README and docs/routing.md describe exactly those names', () => {
    const row = read('README.md')
      .split('\n')
      .find((line) => line.startsWith('| `models.<name>.strategy`'));
    expect(row, 'the README config reference has a models.<name>.strategy row').toBeDefined();
    expect(row).toContain(`| \`${DEFAULTS.strategy}\` |`);
    expect(described(row as string)).toEqual([...STRATEGIES].sort());
    const balancing = read('docs/routing.md').split('\n\n').find((p) => p.startsWith('**Balancing**'));
    expect(balancing, 'docs/routing.md has a **Balancing** paragraph').toBeDefined();
    expect(described(balancing as string)).toEqual([...STRATEGIES].sort());
  });
});
