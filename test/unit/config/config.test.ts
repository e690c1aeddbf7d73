// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are ${VAR} references, not templates
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  type TargetConfig,
  describeConfig,
  interpolateEnv,
  loadConfigFile,
  parseConfig,
  resolveConfig,
} from '../../../src/config/index.js';

// The DESIGN.md example as written (unquoted ${…} inside flow mappings), except that the third provider is
// an OpenAI-compatible one: `anthropic` is not a provider type yet, and "https://…/v1" is not a real URL.
const DESIGN_EXAMPLE = `
server: { host: 127.0.0.1, port: 4000 }
timeouts: { connect_ms: 5000, first_byte_ms: 60000, idle_ms: 60000, total_ms: 600000 }
retry: { max_attempts: 3, base_delay_ms: 500, max_delay_ms: 8000 }
providers:                       # named upstream accounts (a key, a region, a base URL)
  openai-east: { type: openai, api_key: \${OPENAI_API_KEY} }            # base_url defaults per type
  openai-west: { type: openai, api_key: \${OPENAI_API_KEY_2}, base_url: https://west.example.com/v1/ }
  anthropic:   { type: openai, api_key: \${ANTHROPIC_API_KEY}, base_url: https://api.anthropic.com/v1 }
models:                          # what clients send as "model"
  gpt-4o:
    targets:                     # deployments of this model, balanced
      - { provider: openai-east, model: gpt-4o, weight: 3 }
      - { provider: openai-west, model: gpt-4o, weight: 1 }
    fallbacks: [gpt-4o-mini, claude-sonnet]
  gpt-4o-mini: { targets: [{ provider: openai-east, model: gpt-4o-mini }] }
  claude-sonnet: { targets: [{ provider: anthropic, model: claude-3-5-sonnet-latest }] }
`;

const ENV = { OPENAI_API_KEY: 'sk-east-secret', OPENAI_API_KEY_2: 'sk-west-secret', ANTHROPIC_API_KEY: 'sk-ant-secret' };

const MINIMAL = {
  providers: { openai: { type: 'openai', api_key: 'sk-test' } },
  models: { a: { targets: [{ provider: 'openai', model: 'gpt-4o' }] } },
};

/** The issues of the ConfigError thrown by `load`, or a failure if it does not throw one. */
function issuesOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('parses the DESIGN.md example with env', () => {
    const config = parseConfig(DESIGN_EXAMPLE, ENV, 'design.yaml');
    expect(config.providers['openai-east']).toEqual({
      name: 'openai-east',
      type: 'openai',
      api_key: 'sk-east-secret',
      base_url: 'https://api.openai.com/v1',
      proxy: undefined,
      headers: {},
      supports_prefill: false,
      supports_prefill_set: false,
    });
    expect(config.providers['openai-west']?.base_url).toBe('https://west.example.com/v1');
    expect(config.models['gpt-4o']?.targets).toEqual([
      { provider: 'openai-east', model: 'gpt-4o', weight: 3, priority: 1, context_window: undefined, max_output_tokens: undefined, price: undefined },
      { provider: 'openai-west', model: 'gpt-4o', weight: 1, priority: 1, context_window: undefined, max_output_tokens: undefined, price: undefined },
    ]);
    expect(config.models['gpt-4o']?.fallbacks).toEqual(['gpt-4o-mini', 'claude-sonnet']);
    expect(config.models['claude-sonnet']?.name).toBe('claude-sonnet');
  });

  it('resume, prefill and hedge settings: defaults by provider type, overrides, and clear errors', () => {
    const config = resolveConfig(
      {
        providers: {
          a: { type: 'anthropic', api_key: 'k' },
          d: { type: 'deepseek', api_key: 'k' },
          o: { type: 'openai', api_key: 'k' },
          v: { type: 'vllm', supports_prefill: true },
          n: { type: 'anthropic', api_key: 'k', supports_prefill: false },
        },
        models: { m: { targets: [{ provider: 'o', model: 'x' }], hedge: { after_percentile: 95 } } },
      },
      {},
    );
    const prefill = Object.fromEntries(Object.values(config.providers).map((p) => [p.name, p.supports_prefill]));
    expect(prefill).toEqual({ a: true, d: true, o: false, v: true, n: false });
    expect(config.streaming).toMatchObject({ resume: true, max_resumes: 2, resume_max_chars: 1024 * 1024 });
    expect(config.models.m?.hedge).toEqual({ after_ms: undefined, after_percentile: 95 });
    const bad = () =>
      resolveConfig({ providers: { o: { type: 'openai' } }, models: { m: { targets: [{ provider: 'o', model: 'x' }], hedge: {} } } }, {});
    expect(bad).toThrow(/models\.m\.hedge.*after_ms/s);
    const badPercentile = () =>
      resolveConfig({ providers: { o: { type: 'openai' } }, models: { m: { targets: [{ provider: 'o', model: 'x' }], hedge: { after_percentile: 100 } } } }, {});
    expect(badPercentile).toThrow(/after_percentile.*percentile from 1 to 99.9/s);
  });

  it('applies defaults', () => {
    const config = resolveConfig(MINIMAL, {});
    expect(config.server).toEqual({
      host: '127.0.0.1',
      port: 4000,
      max_body_bytes: 33554432,
      drain_timeout_ms: 30000,
      header_timeout_ms: 30000,
      body_timeout_ms: 30000,
      keep_alive_timeout_ms: 65000,
      linger_ms: 5000,
      linger_bytes: 67108864,
    });
    expect(config.timeouts).toEqual({ connect_ms: 5000, first_byte_ms: 60000, idle_ms: 60000, total_ms: 600000 });
    expect(config.retry).toEqual({
      max_attempts: 3,
      base_delay_ms: 500,
      max_delay_ms: 8000,
      max_retry_after_ms: 60000,
      budget_ratio: 0.1,
      max_fallbacks: 3,
      max_attempts_per_request: 6,
      failover_budget_ratio: 0.1,
    });
    expect(config.health).toEqual({ failure_threshold: 5, failure_ratio: 0.5, min_requests: 10, window_s: 30, cooldown_s: 30, probe_interval_s: 60 });
    expect(config.models.a?.strategy).toBe('weighted');
    expect(config.logging).toEqual({ level: 'info', level_set: false });
    expect(resolveConfig({ ...MINIMAL, logging: { level: 'info' } }, {}).logging).toEqual({ level: 'info', level_set: true });
    expect(config.models.a).toEqual({
      name: 'a',
      targets: [{ provider: 'openai', model: 'gpt-4o', weight: 1, priority: 1, context_window: undefined, max_output_tokens: undefined, price: undefined }],
      strategy: 'weighted',
      fallbacks: [],
      context_window_fallbacks: [],
      content_policy_fallbacks: [],
      timeouts: config.timeouts,
      retry: config.retry,
      hedge: undefined,
      transforms: [],
      max_request_bytes: undefined,
    });
  });

  it('merges per-model timeouts and retry over the global ones', () => {
    const config = parseConfig(
      `
timeouts: { connect_ms: 1000 }
retry: { max_attempts: 5 }
providers: { p: { type: openai } }
models:
  slow: { targets: [{ provider: p, model: o1 }], timeouts: { total_ms: 900000 }, retry: { max_attempts: 1 } }
  fast: { targets: [{ provider: p, model: mini }] }
`,
      {},
    );
    expect(config.models.slow?.timeouts).toEqual({ connect_ms: 1000, first_byte_ms: 60000, idle_ms: 60000, total_ms: 900000 });
    expect(config.models.slow?.retry).toMatchObject({ max_attempts: 1, base_delay_ms: 500, max_delay_ms: 8000 });
    expect(config.models.fast?.timeouts.connect_ms).toBe(1000);
    expect(config.models.fast?.retry.max_attempts).toBe(5);
    expect(config.providers.p?.api_key).toBeUndefined();
  });

  it('returns a deeply frozen config', () => {
    const config = resolveConfig(MINIMAL, {});
    expect(Object.isFrozen(config.models.a.targets[0])).toBe(true);
    // Test files are ES modules, hence strict mode: writing to a frozen object throws.
    expect(() => {
      config.server.port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.models.a.targets as TargetConfig[]).push({ provider: 'x', model: 'y', weight: 1, priority: 1, context_window: undefined, max_output_tokens: undefined, max_input_tokens: undefined, price: undefined });
    }).toThrow(TypeError);
    expect(() => {
      (config.providers.openai.headers as Record<string, string>).evil = 'x';
    }).toThrow(TypeError);
  });

  it('does not modify the object it was given', () => {
    const raw = structuredClone({ ...MINIMAL, server: { port: '${PORT:-4100}' } });
    const config = resolveConfig(raw, {});
    expect(config.server.port).toBe(4100);
    expect(raw.server.port).toBe('${PORT:-4100}');
    expect(Object.isFrozen(raw)).toBe(false);
  });
});

describe('config errors', () => {
  const errorsFor = (yaml: string, env: Record<string, string> = {}) => issuesOf(() => parseConfig(yaml, env));
  const base = `
providers:
  openai-east: { type: openai }
  anthropic: { type: openai }
`;

  it('names an unknown provider and lists the known ones', () => {
    const issues = errorsFor(`${base}models: { gpt-4o: { targets: [{ provider: opneai, model: gpt-4o }] } }`);
    expect(issues).toContain('models.gpt-4o.targets[0].provider: unknown provider "opneai" (known: openai-east, anthropic)');
  });

  it('names an unknown key and lists the valid ones', () => {
    const issues = errorsFor(`server: { prot: 8080 }\n${base}models: { a: { targets: [{ provider: anthropic, model: m }] } }`);
    // The list grows with the server section; what matters is the key, the suggestion and the list's start.
    expect(issues).toEqual([expect.stringMatching(/^server\.prot: unknown key, did you mean port\? \(valid: host, port, max_body_bytes, /)]);
  });

  it('names an unknown provider type', () => {
    const issues = issuesOf(() => resolveConfig({ ...MINIMAL, providers: { x: { type: 'opena' } } }, {}));
    expect(issues).toContain('providers.x.type: "opena" is not a provider type (valid: openai, anthropic, gemini, azure, bedrock, groq, together, fireworks, deepseek, mistral, openrouter, xai, perplexity, cerebras, ollama, vllm, lmstudio)');
  });

  it('names a missing environment variable and where it was used', () => {
    const issues = errorsFor(`
providers: { openai-east: { type: openai, api_key: \${OPENAI_API_KEY} } }
models: { a: { targets: [{ provider: openai-east, model: m }] } }`);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain('providers.openai-east.api_key: environment variable OPENAI_API_KEY is not set');
  });

  it('names an unknown fallback and lists the known models', () => {
    const issues = errorsFor(`${base}models:
  a: { targets: [{ provider: anthropic, model: m }], fallbacks: [b, zzz, a] }
  b: { targets: [{ provider: anthropic, model: m }] }`);
    expect(issues).toEqual([
      'models.a.fallbacks[1]: unknown model "zzz" (known: a, b)',
      'models.a.fallbacks[2]: a model cannot fall back to itself ("a")',
    ]);
  });

  it('says what number was expected and what it got', () => {
    const issues = errorsFor(`timeouts: { connect_ms: abc }${base}models: { a: { targets: [{ provider: anthropic, model: m }] } }`);
    expect(issues).toEqual(['timeouts.connect_ms: expected a positive integer, got "abc"']);
    expect(errorsFor(`server: { port: 70000 }${base}models: { a: { targets: [{ provider: anthropic, model: m }] } }`)).toEqual([
      'server.port: expected a port number 0..65535 (0 = any free port), got 70000',
    ]);
  });

  it('reports every problem at once, one per line in the message', () => {
    let thrown: unknown;
    try {
      parseConfig(
        `
server: { prot: 1, port: -1 }
retry: { max_attempts: 0 }
providers: { p: { type: opena, base_url: ftp://x, api_key: \${MISSING} } }
models:
  a: { targets: [], fallbacks: [nope] }
  b: { targets: [{ provider: q, model: m, weight: 0 }] }
`,
        {},
        'lifeline.yaml',
      );
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const error = thrown as ConfigError;
    // In document order, whichever pass (env, schema, references) found them.
    expect(error.issues).toEqual([
      expect.stringMatching(/^server\.prot: unknown key, did you mean port\? \(valid: host, port, max_body_bytes, /),
      'server.port: expected a port number 0..65535 (0 = any free port), got -1',
      'retry.max_attempts: expected a positive integer, got 0',
      'providers.p.type: "opena" is not a provider type (valid: openai, anthropic, gemini, azure, bedrock, groq, together, fireworks, deepseek, mistral, openrouter, xai, perplexity, cerebras, ollama, vllm, lmstudio)',
      'providers.p.base_url: expected an http(s) URL such as https://api.openai.com/v1, got "ftp://x"',
      'providers.p.api_key: environment variable MISSING is not set (set it, or give a default: ${MISSING:-…})',
      'models.a.targets: at least one target is required, e.g. [{ provider: openai, model: gpt-4o }]',
      'models.a.fallbacks[0]: unknown model "nope" (known: a, b)',
      'models.b.targets[0].provider: unknown provider "q" (known: p)',
      'models.b.targets[0].weight: expected a positive number, got 0',
    ]);
    expect(error.message.split('\n')).toEqual(['invalid config in lifeline.yaml (10 problems):', ...error.issues.map((i) => `  ${i}`)]);
  });

  it('says what to add when providers or models are missing', () => {
    expect(errorsFor('')).toEqual([
      'providers: at least one provider is required, e.g. providers: { openai: { type: openai, api_key: ${OPENAI_API_KEY} } }',
      'models: at least one model is required, e.g. models: { gpt-4o: { targets: [{ provider: openai, model: gpt-4o }] } }',
    ]);
    expect(errorsFor('providers: {}\nmodels: {}')).toHaveLength(2);
  });

  it('quotes keys that would make the path ambiguous', () => {
    const issues = issuesOf(() => resolveConfig({ ...MINIMAL, models: { 'gpt-4.1': { targets: [{ provider: 'nope', model: 'm' }] } } }, {}));
    expect(issues).toEqual(['models["gpt-4.1"].targets[0].provider: unknown provider "nope" (known: openai)']);
  });

  it('reports YAML syntax errors with their line', () => {
    const issues = errorsFor('providers:\n  a: { type: openai\nmodels: x\n');
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]).toMatch(/^line \d+, column \d+: /);
    expect(errorsFor('server:\n  port: 1\n  port: 2\n')[0]).toMatch(/^line 3, column 3: Map keys must be unique/);
  });

  it('reports a missing file', () => {
    const path = join(tmpdir(), 'lifeline-no-such-config.yaml');
    expect(issuesOf(() => loadConfigFile(path, {}))).toEqual(['cannot read config file: file not found']);
  });

  it('loads a file', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'lifeline-config-')), 'lifeline.yaml');
    writeFileSync(path, DESIGN_EXAMPLE);
    expect(Object.keys(loadConfigFile(path, ENV).models)).toEqual(['gpt-4o', 'gpt-4o-mini', 'claude-sonnet']);
  });
});

describe('interpolation', () => {
  const yamlWith = (value: string) => `
providers: { p: { type: openai, api_key: ${value} } }
models: { a: { targets: [{ provider: p, model: m }] } }`;

  it('uses ${VAR:-default} when the variable is unset or empty', () => {
    expect(parseConfig(yamlWith('${KEY:-sk-default}'), {}).providers.p?.api_key).toBe('sk-default');
    expect(parseConfig(yamlWith('${KEY:-sk-default}'), { KEY: '' }).providers.p?.api_key).toBe('sk-default');
    expect(parseConfig(yamlWith('${KEY:-sk-default}'), { KEY: 'sk-env' }).providers.p?.api_key).toBe('sk-env');
    expect(parseConfig(yamlWith('${KEY:-}'), {}).providers.p?.api_key).toBeUndefined();
  });

  it('keeps $${ as a literal ${', () => {
    expect(parseConfig(yamlWith('"a$${KEY}b"'), { KEY: 'x' }).providers.p?.api_key).toBe('a${KEY}b');
    expect(interpolateEnv('$${A} ${A} $$', { A: '1' }).value).toBe('${A} 1 $$');
  });

  it('never lets a value change the YAML structure', () => {
    const value = 'sk-1\n  base_url: http://evil.example\nmodels: {}';
    const config = parseConfig(yamlWith('${KEY}'), { KEY: value });
    expect(config.providers.p?.api_key).toBe(value);
    expect(config.providers.p?.base_url).toBe('https://api.openai.com/v1');
    expect(Object.keys(config.models)).toEqual(['a']);
  });

  it('reads numbers from the environment', () => {
    const config = resolveConfig({ ...MINIMAL, server: { port: '${PORT}' } }, { PORT: '8080' });
    expect(config.server.port).toBe(8080);
  });

  it('rejects malformed references with their path', () => {
    const { issues } = interpolateEnv({ a: ['${1X}', '${OPEN', '${A:-${B}}'] }, {});
    expect(issues.map((i) => i.path)).toEqual([['a', 0], ['a', 1], ['a', 2]]);
    expect(issues[0]?.message).toContain('invalid reference "${1X}"');
    expect(issues[1]?.message).toContain('unclosed "${"');
  });
});

describe('describeConfig', () => {
  it('lists address, providers and models without printing keys', () => {
    const text = describeConfig(parseConfig(DESIGN_EXAMPLE, ENV));
    // `lifeline check` starts nothing: it says where `serve` would listen, never that it is listening.
    expect(text).toContain('would listen on http://127.0.0.1:4000');
    expect(text).not.toMatch(/^listening on/m);
    expect(text).toContain('openai-east (openai) https://api.openai.com/v1; key: set');
    expect(text).toContain('gpt-4o → openai-east/gpt-4o (weight 3), openai-west/gpt-4o (weight 1)');
    expect(text).toContain('fallbacks: gpt-4o-mini, claude-sonnet');
    for (const secret of Object.values(ENV)) expect(text).not.toContain(secret);
  });

  it('hides proxy credentials and header values, and shows a missing key', () => {
    const config = resolveConfig(
      {
        ...MINIMAL,
        providers: { p: { type: 'openai', proxy: 'http://user:hunter2@proxy.internal:3128', headers: { 'X-Token': 'tok-secret' } } },
        models: { a: { targets: [{ provider: 'p', model: 'm' }] } },
      },
      {},
    );
    const text = describeConfig(config);
    expect(text).toContain('key: none');
    expect(text).toContain('proxy: http://***@proxy.internal:3128');
    expect(text).toContain('headers: X-Token');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('tok-secret');
  });
});
