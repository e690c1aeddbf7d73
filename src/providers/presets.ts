import type { ProviderType } from '../config/provider-types.js';
import { OPENAI_WIRE, type OpenAIWire, openAICompatible } from './openai.js';
import type { ProviderAdapter } from './types.js';

/**
 * OpenAI-compatible hosts. Each preset is its default base_url (in config/provider-types.ts) plus, here, the
 * quirks that make its API differ from OpenAI's. Only quirks we know of are listed; an unknown field a host
 * rejects comes back as its own 400, which the client sees.
 */
const QUIRKS: Partial<Record<ProviderType, Partial<OpenAIWire>>> = {
  // Groq answers 400 to these OpenAI fields (its docs list them as unsupported); dropping them lets a request
  // that fails over from OpenAI still be served.
  groq: { omit: ['logprobs', 'top_logprobs', 'logit_bias'] },
};

/** Hosts whose API has no OpenAI Responses endpoint. */
const NO_RESPONSES: ReadonlySet<ProviderType> = new Set([
  'groq',
  'together',
  'fireworks',
  'deepseek',
  'mistral',
  'openrouter',
  'xai',
  'perplexity',
  'cerebras',
  'ollama',
  'vllm',
  'lmstudio',
]);

export function presetAdapter(type: ProviderType): ProviderAdapter {
  const adapter = openAICompatible({ ...OPENAI_WIRE, ...QUIRKS[type] });
  return NO_RESPONSES.has(type) ? { ...adapter, unsupported: ['responses'] } : adapter;
}
