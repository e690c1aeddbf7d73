import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../src/config/index.js';
import { closestKey, editDistance } from '../../../src/config/errors.js';

const BASE = `
providers: { p: { type: openai } }
models: { a: { targets: [{ provider: p, model: m }] } }
`;

function issuesFor(yaml: string): string[] {
  try {
    parseConfig(yaml, {});
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('unknown config keys: did you mean …?', () => {
  it('suggests the closest key of the same section', () => {
    expect(issuesFor(`timeouts: { conect_ms: 100 }${BASE}`)).toEqual([
      'timeouts.conect_ms: unknown key, did you mean connect_ms? (valid: connect_ms, first_byte_ms, idle_ms, total_ms)',
    ]);
  });

  it('suggests at every depth: the top level, a provider, a target, a model override', () => {
    const issues = issuesFor(`
retyr: { max_attempts: 2 }
providers: { p: { type: openai, base_ur: "http://127.0.0.1:1/v1" } }
models:
  a:
    targets: [{ provider: p, modle: m, model: m }]
    timeouts: { idle: 5 }
`);
    expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(/^retyr: unknown key, did you mean retry\? \(valid: /)]));
    expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(/^providers\.p\.base_ur: unknown key, did you mean base_url\? \(valid: /)]));
    expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(/^models\.a\.targets\[0\]\.modle: unknown key, did you mean model\? \(valid: /)]));
    expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(/^models\.a\.timeouts\.idle: unknown key, did you mean idle_ms\? \(valid: /)]));
  });

  it('reads a swapped pair, another case or another separator as a typo', () => {
    const issues = issuesFor(`providers: { p: { type: openai, baseURL: "http://127.0.0.1:1/v1", api-key: x } }
models: { a: { targets: [{ provider: p, model: m }], stratgey: priority } }`);
    expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(/^providers\.p\.baseURL: unknown key, did you mean base_url\?/)]));
    expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(/^providers\.p\.api-key: unknown key, did you mean api_key\?/)]));
    expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(/^models\.a\.stratgey: unknown key, did you mean strategy\?/)]));
  });

  it('suggests nothing when no key is close, and keeps the list of valid keys', () => {
    expect(issuesFor(`logging: { banana: 1 }${BASE}`)).toEqual(['logging.banana: unknown key (valid: level, format)']);
  });

  it('keeps every problem in one report, one line each, each typo with its own suggestion', () => {
    let thrown: unknown;
    try {
      parseConfig(`timeouts: { conect_ms: 1, idel_ms: 2, total_ms: 0 }${BASE}`, {}, 'lifeline.yaml');
    } catch (error) {
      thrown = error;
    }
    const error = thrown as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.issues).toEqual([
      'timeouts.conect_ms: unknown key, did you mean connect_ms? (valid: connect_ms, first_byte_ms, idle_ms, total_ms)',
      'timeouts.idel_ms: unknown key, did you mean idle_ms? (valid: connect_ms, first_byte_ms, idle_ms, total_ms)',
      'timeouts.total_ms: expected a positive integer, got 0',
    ]);
    expect(error.message.split('\n')).toEqual(['invalid config in lifeline.yaml (3 problems):', ...error.issues.map((i) => `  ${i}`)]);
  });
});

describe('closestKey', () => {
  it('counts a transposition as one edit', () => {
    expect(editDistance('prot', 'port')).toBe(1);
    expect(editDistance('connect_ms', 'connect_ms')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('picks the nearest candidate within a bound that grows with the length', () => {
    expect(closestKey('prot', ['host', 'port'])).toBe('port');
    expect(closestKey('first_byte', ['connect_ms', 'first_byte_ms'])).toBe('first_byte_ms');
    expect(closestKey('xyz', ['host', 'port'])).toBeUndefined();
    expect(closestKey('timeout', ['timeouts', 'retry'])).toBe('timeouts');
  });
});
