import type { ProviderType } from '../../config/provider-types.js';
import { OPENAI_WIRE, type OpenAIWire, openAICompatible } from '../openai/adapter.js';
import { applyChatQuirks, CHAT_QUIRKS, type ChatQuirks, continuesPrefill } from './quirks.js';
import type { ProviderAdapter } from '../adapter.js';

/**
 * OpenAI-compatible hosts. Each preset is its default base_url (in config/provider-types.ts) plus, in
 * quirks.ts, what its chat request must not carry or must carry under another name, per its docs.
 */

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

function presetWire(q: ChatQuirks | undefined): OpenAIWire {
  if (!q) return OPENAI_WIRE;
  return {
    ...OPENAI_WIRE,
    adapt: (op, body) => (op === 'chat' ? applyChatQuirks(body, q) : body),
    url(op, d, body) {
      const base = op === 'chat' && q.prefixBaseUrl && continuesPrefill(body) ? q.prefixBaseUrl(d.provider.base_url) : undefined;
      return base === undefined ? OPENAI_WIRE.url(op, d, body) : OPENAI_WIRE.url(op, { ...d, provider: { ...d.provider, base_url: base } }, body);
    },
  };
}

export function presetAdapter(type: ProviderType): ProviderAdapter {
  const adapter = openAICompatible(presetWire((CHAT_QUIRKS as Partial<Record<ProviderType, ChatQuirks>>)[type]));
  return NO_RESPONSES.has(type) ? { ...adapter, unsupported: ['responses'] } : adapter;
}
