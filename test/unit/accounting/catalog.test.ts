import { describe, expect, it } from 'vitest';
import { CATALOG, CATALOG_DATE, CATALOG_SOURCES, type CatalogFamily } from '../../../src/accounting/catalog-data.js';
import { type CatalogEntry, lookupModel, nameCandidates, resolveModelInfo } from '../../../src/accounting/catalog.js';
import { costUSD } from '../../../src/accounting/cost.js';
import { dollars, formatCatalog, formatConfigReport, configReport } from '../../../src/accounting/report.js';
import { PROVIDER_TYPES, type ProviderType } from '../../../src/config/provider-types.js';
import { resolveConfig } from '../../../src/config/index.js';
import type { TargetConfig } from '../../../src/config/types.js';

const id = (type: ProviderType, model: string) => lookupModel(type, model)?.id;

function target(model: string, overrides: Partial<TargetConfig> = {}): TargetConfig {
  return { provider: 'p', model, weight: 1, priority: 1, context_window: undefined, max_output_tokens: undefined, max_input_tokens: undefined, price: undefined, ...overrides };
}

const families = Object.entries(CATALOG) as [CatalogFamily, readonly CatalogEntry[]][];

describe('the catalog data', () => {
  it('is dated and names its sources', () => {
    expect(CATALOG_DATE).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(CATALOG_SOURCES.length).toBeGreaterThan(10);
    for (const url of CATALOG_SOURCES) expect(url).toMatch(/^https:\/\//);
  });

  it.each(families)('%s: every entry is sane', (_family, entries) => {
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      const where = `${e.id}`;
      expect(Number.isInteger(e.context_window), where).toBe(true);
      expect(e.context_window, where).toBeGreaterThan(0);
      if (e.kind === 'embedding') {
        expect(e.max_output_tokens, where).toBe(0);
        expect(Object.values(e.capabilities).some(Boolean), where).toBe(false);
      } else {
        expect(e.max_output_tokens, where).toBeGreaterThan(0);
        // Equal where the provider publishes no separate output cap (the output shares the window).
        expect(e.max_output_tokens, where).toBeLessThanOrEqual(e.context_window);
        if (e.max_output_tokens === e.context_window) expect(e.note, `${where}: a window-sized cap must say why`).toBeTruthy();
      }
      for (const p of [e.price.input, e.price.output, e.price.cached_input ?? 0]) {
        expect(Number.isFinite(p) && p >= 0, where).toBe(true);
      }
      if (e.price.cached_input !== undefined) expect(e.price.cached_input, where).toBeLessThanOrEqual(e.price.input);
      expect(Object.isFrozen(e) && Object.isFrozen(e.price), where).toBe(true);
    }
  });

  it.each(families)('%s: ids and aliases are unique, and each finds its own entry', (family, entries) => {
    const names = entries.flatMap((e) => [e.id, ...(e.aliases ?? [])].map((n) => n.toLowerCase()));
    expect(new Set(names).size).toBe(names.length);
    const type = family as ProviderType;
    expect(PROVIDER_TYPES[type]).toBeDefined();
    for (const e of entries) {
      for (const name of [e.id, ...(e.aliases ?? [])]) expect(lookupModel(type, name), name).toBe(e);
    }
  });

  it('covers the main models of each family', () => {
    const expected: [ProviderType, string][] = [
      ['openai', 'gpt-4o'],
      ['openai', 'gpt-4o-mini'],
      ['openai', 'gpt-4.1-nano'],
      ['openai', 'o3-mini'],
      ['openai', 'gpt-5-nano'],
      ['openai', 'gpt-3.5-turbo'],
      ['openai', 'text-embedding-3-large'],
      ['anthropic', 'claude-opus-4-1'],
      ['anthropic', 'claude-3-7-sonnet-latest'],
      ['gemini', 'gemini-2.5-flash-lite'],
      ['gemini', 'text-embedding-004'],
      ['bedrock', 'amazon.nova-micro-v1:0'],
      ['bedrock', 'meta.llama3-1-8b-instruct-v1:0'],
      ['mistral', 'codestral-latest'],
      ['deepseek', 'deepseek-reasoner'],
      ['groq', 'llama-3.1-8b-instant'],
      ['xai', 'grok-3-mini'],
    ];
    for (const [type, model] of expected) expect(lookupModel(type, model), `${type} ${model}`).toBeDefined();
  });
});

describe('lookupModel', () => {
  it('finds the exact id first, then strips only known decorations', () => {
    expect(id('openai', 'gpt-4o')).toBe('gpt-4o');
    expect(id('openai', 'gpt-4o-2024-08-06')).toBe('gpt-4o');
    expect(id('openai', 'gpt-4o-mini-2024-07-18')).toBe('gpt-4o-mini'); // not gpt-4o
    expect(id('openai', 'gpt-4o-2024-05-13')).toBe('gpt-4o-2024-05-13'); // its own price, exact wins
    expect(id('openai', 'gpt-3.5-turbo-0125')).toBe('gpt-3.5-turbo');
    expect(id('openai', 'o1-2024-12-17')).toBe('o1');
    expect(id('openai', 'GPT-4o')).toBe('gpt-4o');
    expect(id('openai', 'gpt-4o-turbo-nonsense')).toBeUndefined();
    expect(id('openai', 'gpt-4o-mini-tts')).toBeUndefined(); // no prefix matching
  });

  it('Anthropic: undated aliases, -latest and dated snapshots', () => {
    expect(id('anthropic', 'claude-sonnet-4-5')).toBe('claude-sonnet-4-5-20250929');
    expect(id('anthropic', 'claude-sonnet-4-5-20250929')).toBe('claude-sonnet-4-5-20250929');
    expect(id('anthropic', 'claude-3-5-sonnet-latest')).toBe('claude-3-5-sonnet-20241022');
    expect(id('anthropic', 'claude-3-5-haiku-latest')).toBe('claude-3-5-haiku-20241022');
    expect(id('anthropic', 'claude-sonnet-4-0')).toBe('claude-sonnet-4-20250514');
    expect(id('anthropic', 'claude-sonnet-4-5@20250929')).toBe('claude-sonnet-4-5-20250929'); // Vertex form
    expect(id('anthropic', 'claude-opus-4')).toBe('claude-opus-4-20250514'); // the undated name of a dated id
    expect(id('anthropic', 'claude-opus')).toBeUndefined();
  });

  it('Gemini: models/ prefix, -latest and -00N versions', () => {
    expect(id('gemini', 'models/gemini-2.5-pro')).toBe('gemini-2.5-pro');
    expect(id('gemini', 'gemini-2.0-flash-001')).toBe('gemini-2.0-flash');
    expect(id('gemini', 'gemini-1.5-pro-latest')).toBe('gemini-1.5-pro');
    expect(id('gemini', 'gemini-2.5-flash-lite')).toBe('gemini-2.5-flash-lite'); // not gemini-2.5-flash
  });

  it('Bedrock: cross-region prefixes, revisions and versions', () => {
    const sonnet = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
    for (const prefix of ['', 'us.', 'eu.', 'apac.', 'global.']) expect(id('bedrock', `${prefix}${sonnet}`)).toBe(sonnet);
    expect(id('bedrock', 'anthropic.claude-3-haiku-20240307-v1:0:200k')).toBe('anthropic.claude-3-haiku-20240307-v1:0');
    expect(id('bedrock', 'anthropic.claude-3-5-sonnet-20240620-v1:0')).toBe('anthropic.claude-3-5-sonnet-20241022-v2:0');
    expect(id('bedrock', 'us.amazon.nova-pro-v1:0')).toBe('amazon.nova-pro-v1:0');
    expect(id('bedrock', 'amazon.nova-pro-v1')).toBe('amazon.nova-pro-v1:0');
    expect(id('bedrock', 'claude-sonnet-4-5')).toBeUndefined(); // Anthropic's id is not a Bedrock id
  });

  it('Azure looks up the deployment name as given (name it after the model, or configure it)', () => {
    expect(id('azure', 'gpt-4o')).toBe('gpt-4o');
    expect(id('azure', 'gpt-35-turbo')).toBe('gpt-3.5-turbo');
    expect(id('azure', 'my-prod-deployment')).toBeUndefined();
  });

  it('vendor/model names go to the vendor family (OpenRouter style)', () => {
    expect(id('openrouter', 'openai/gpt-4o')).toBe('gpt-4o');
    expect(id('openrouter', 'openai/gpt-4o-2024-11-20')).toBe('gpt-4o');
    expect(id('openrouter', 'anthropic/claude-sonnet-4.5')).toBe('claude-sonnet-4-5-20250929');
    expect(id('openrouter', 'anthropic/claude-3.5-haiku')).toBe('claude-3-5-haiku-20241022');
    expect(id('openrouter', 'google/gemini-2.5-flash')).toBe('gemini-2.5-flash');
    expect(id('openrouter', 'x-ai/grok-4')).toBe('grok-4');
    expect(id('openrouter', 'mistralai/mistral-large-2411')).toBe('mistral-large');
    expect(id('openai', 'openai/gpt-4.1-mini')).toBe('gpt-4.1-mini'); // an OpenAI-compatible router behind type openai
    expect(id('openrouter', 'meta-llama/llama-3.3-70b-instruct')).toBeUndefined();
  });

  it('presets: their own entries first, then any family by exact id', () => {
    expect(id('groq', 'openai/gpt-oss-120b')).toBe('openai/gpt-oss-120b'); // Groq's price, not a vendor lookup
    expect(lookupModel('groq', 'openai/gpt-oss-120b')).toBe(CATALOG.groq.find((e) => e.id === 'openai/gpt-oss-120b'));
    expect(id('mistral', 'mistral-large-latest')).toBe('mistral-large');
    expect(id('deepseek', 'deepseek-chat')).toBe('deepseek-chat');
    expect(id('xai', 'grok-4-0709')).toBe('grok-4');
    expect(id('openrouter', 'gpt-4o')).toBe('gpt-4o'); // exact id in another family
    expect(id('together', 'gpt-4o-2024-08-06')).toBeUndefined(); // …but only exact there
  });

  it('local hosts and first-party types never borrow another family', () => {
    for (const type of ['ollama', 'vllm', 'lmstudio'] as const) expect(id(type, 'gpt-4o')).toBeUndefined();
    expect(id('anthropic', 'gpt-4o')).toBeUndefined();
    expect(id('gemini', 'openai/gpt-4o')).toBeUndefined();
  });

  it('nameCandidates strips one known decoration at a time', () => {
    expect(nameCandidates('us.anthropic.claude-sonnet-4-5-20250929-v1:0')).toEqual([
      'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      'anthropic.claude-sonnet-4-5-20250929-v1:0',
      'anthropic.claude-sonnet-4-5-20250929-v1',
      'anthropic.claude-sonnet-4-5-20250929',
      'anthropic.claude-sonnet-4-5',
    ]);
    expect(nameCandidates('deepseek-v3')).toEqual(['deepseek-v3']); // a version that is part of the name stays
  });
});

describe('resolveModelInfo', () => {
  it('takes the catalog when the config says nothing', () => {
    const info = resolveModelInfo('openai', target('gpt-4o-2024-08-06'));
    expect(info).toMatchObject({ context_window: 128_000, max_output_tokens: 16_384, source: 'catalog' });
    expect(info.price).toEqual({ input: 2.5, output: 10, cached_input: 1.25 });
    expect(info.capabilities).toEqual({ tools: true, vision: true, prefill: false, json: true });
  });

  it('config overrides the catalog field by field', () => {
    const info = resolveModelInfo('anthropic', target('claude-sonnet-4-5', { max_output_tokens: 8_192 }));
    expect(info).toMatchObject({ context_window: 200_000, max_output_tokens: 8_192, source: 'config+catalog' });
    expect(info.price?.input).toBe(3);
  });

  it('a configured price replaces the catalog price whole', () => {
    const info = resolveModelInfo('openai', target('gpt-4o', { price: { input: 2, output: 8, cached_input: undefined } }));
    expect(info.price).toEqual({ input: 2, output: 8, cached_input: undefined });
  });

  it('config extends the catalog to models it does not know', () => {
    const price = { input: 1, output: 2, cached_input: 0.5 };
    const info = resolveModelInfo('azure', target('prod-deployment', { context_window: 64_000, price }));
    expect(info).toEqual({ context_window: 64_000, max_output_tokens: undefined, max_input_tokens: undefined, price, capabilities: undefined, source: 'config' });
    expect(resolveModelInfo('ollama', target('llama3.1')).source).toBe('unknown');
  });

  it("GPT-5's input cap comes from the catalog; a configured window replaces it unless the config caps input too", () => {
    expect(resolveModelInfo('openai', target('gpt-5-mini-2025-08-07'))).toMatchObject({ context_window: 400_000, max_input_tokens: 272_000 });
    expect(resolveModelInfo('azure', target('gpt-5')).max_input_tokens).toBe(272_000);
    expect(resolveModelInfo('openai', target('gpt-5', { context_window: 300_000 })).max_input_tokens).toBeUndefined();
    expect(resolveModelInfo('openai', target('gpt-5', { max_input_tokens: 100_000 }))).toMatchObject({ max_input_tokens: 100_000, source: 'config+catalog' });
    expect(resolveModelInfo('openai', target('gpt-4o')).max_input_tokens).toBeUndefined();
  });

  it('an embedding model has no output cap', () => {
    expect(resolveModelInfo('openai', target('text-embedding-3-small')).max_output_tokens).toBeUndefined();
  });
});

describe('costUSD', () => {
  const price = { input: 2.5, output: 10, cached_input: 1.25 };

  it('charges input, cached input and output per 1M tokens', () => {
    expect(costUSD({ prompt_tokens: 1_000_000, completion_tokens: 0 }, price)).toBeCloseTo(2.5, 10);
    expect(costUSD({ prompt_tokens: 1_000, completion_tokens: 500, cached_tokens: 400 }, price)).toBeCloseTo(
      (600 * 2.5 + 400 * 1.25 + 500 * 10) / 1e6,
      12,
    );
  });

  it('cached tokens cost the input price when there is no discount, and never exceed the prompt', () => {
    const flat = { input: 1, output: 1, cached_input: undefined };
    expect(costUSD({ prompt_tokens: 100, completion_tokens: 0, cached_tokens: 100 }, flat)).toBeCloseTo(100 / 1e6, 12);
    expect(costUSD({ prompt_tokens: 100, completion_tokens: 0, cached_tokens: 1_000 }, price)).toBeCloseTo((100 * 1.25) / 1e6, 12);
  });

  it('ignores nonsense counts', () => {
    expect(costUSD({ prompt_tokens: -5, completion_tokens: Number.NaN, cached_tokens: -1 }, price)).toBe(0);
  });
});

describe('the models report', () => {
  it('prints the catalog with its date, sources and every entry', () => {
    const text = formatCatalog();
    expect(text).toContain(CATALOG_DATE);
    for (const url of CATALOG_SOURCES) expect(text).toContain(url);
    expect(text).toMatch(/^openai\s+gpt-4o\s+128,000\s+16,384\s+\$2\.50\s+\$10\.00\s+\$1\.25\s+tools,vision,json$/m);
    expect(text).toMatch(/^anthropic\s+claude-sonnet-4-5-20250929\s+200,000\s+64,000\s+\$3\.00\s+\$15\.00\s+\$0\.30\s+tools,vision,prefill$/m);
  });

  it('formats prices to the cent or finer', () => {
    expect(dollars(2.5)).toBe('$2.50');
    expect(dollars(0.075)).toBe('$0.075');
    expect(dollars(0.00875)).toBe('$0.00875');
    expect(dollars(15)).toBe('$15.00');
  });

  it('resolves a config and says where each number came from', () => {
    const config = resolveConfig({
      providers: { oai: { type: 'openai', api_key: 'sk-secret' }, az: { type: 'azure', api_key: 'k', base_url: 'https://r.openai.azure.com' } },
      models: {
        fast: {
          targets: [
            { provider: 'oai', model: 'gpt-4o-mini' },
            { provider: 'az', model: 'prod', context_window: 64000, price: { input: 1, output: 2 } },
          ],
        },
      },
    });
    const [model] = configReport(config);
    expect(model!.targets[0]).toMatchObject({ catalog_id: 'gpt-4o-mini', source: 'catalog', context_window: 128_000 });
    expect(model!.targets[1]!.sources).toEqual({ context_window: 'config', max_output_tokens: 'unknown', price: 'config' });
    const text = formatConfigReport(config);
    expect(text).toContain('catalog (gpt-4o-mini)');
    expect(text).toContain('config: context, price; unknown: max out');
    expect(text).not.toContain('sk-secret');
  });
});
