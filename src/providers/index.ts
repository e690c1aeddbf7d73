import { PROVIDER_TYPES, type ProviderType } from '../config/provider-types.js';
import { anthropicProvider } from './anthropic/adapter.js';
import { azureProvider } from './azure/adapter.js';
import { bedrockProvider } from './bedrock/adapter.js';
import { geminiProvider } from './gemini/adapter.js';
import { openaiProvider } from './openai/adapter.js';
import { presetAdapter } from './presets/adapter.js';
import type { ProviderAdapter } from './adapter.js';

export * from './adapter.js';

/** The adapter of each provider family; OpenAI-compatible presets get theirs from presets/adapter.ts. */
const FAMILY_ADAPTERS: Partial<Record<string, ProviderAdapter>> = {
  anthropic: anthropicProvider,
  azure: azureProvider,
  bedrock: bedrockProvider,
  gemini: geminiProvider,
};

const cache = new Map<ProviderType, ProviderAdapter>();

export function adapterFor(type: ProviderType): ProviderAdapter {
  let adapter = cache.get(type);
  if (!adapter) {
    const info = PROVIDER_TYPES[type];
    if (type === 'openai') adapter = openaiProvider;
    else if (info.family === 'openai') adapter = presetAdapter(type);
    else adapter = FAMILY_ADAPTERS[info.family];
    if (!adapter) throw new Error(`provider type "${type}" has no adapter yet`);
    cache.set(type, adapter);
  }
  return adapter;
}
