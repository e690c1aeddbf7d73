/**
 * Every provider type: the wire family it speaks and where it lives by default. Adding an OpenAI-compatible
 * host is one line here (its quirks, if any, live in providers/presets/adapter.ts).
 */
export type ProviderFamily = 'openai' | 'anthropic' | 'gemini' | 'azure' | 'bedrock';

export interface ProviderTypeInfo {
  family: ProviderFamily;
  /** Used when the provider omits `base_url`; undefined when there is no sensible default (Azure). */
  default_base_url: string | undefined;
  /** Continues a trailing assistant message out of the box (see `supports_prefill`). */
  prefill: boolean;
}

export const PROVIDER_TYPES = {
  openai: { family: 'openai', default_base_url: 'https://api.openai.com/v1', prefill: false },
  anthropic: { family: 'anthropic', default_base_url: 'https://api.anthropic.com/v1', prefill: true },
  gemini: { family: 'gemini', default_base_url: 'https://generativelanguage.googleapis.com/v1beta', prefill: false },
  azure: { family: 'azure', default_base_url: undefined, prefill: false },
  // Built from `region` when base_url is absent: https://bedrock-runtime.<region>.amazonaws.com
  bedrock: { family: 'bedrock', default_base_url: undefined, prefill: false },
  groq: { family: 'openai', default_base_url: 'https://api.groq.com/openai/v1', prefill: false },
  together: { family: 'openai', default_base_url: 'https://api.together.xyz/v1', prefill: false },
  fireworks: { family: 'openai', default_base_url: 'https://api.fireworks.ai/inference/v1', prefill: false },
  deepseek: { family: 'openai', default_base_url: 'https://api.deepseek.com/v1', prefill: true },
  mistral: { family: 'openai', default_base_url: 'https://api.mistral.ai/v1', prefill: true },
  openrouter: { family: 'openai', default_base_url: 'https://openrouter.ai/api/v1', prefill: false },
  xai: { family: 'openai', default_base_url: 'https://api.x.ai/v1', prefill: false },
  perplexity: { family: 'openai', default_base_url: 'https://api.perplexity.ai', prefill: false },
  cerebras: { family: 'openai', default_base_url: 'https://api.cerebras.ai/v1', prefill: false },
  ollama: { family: 'openai', default_base_url: 'http://127.0.0.1:11434/v1', prefill: false },
  vllm: { family: 'openai', default_base_url: 'http://127.0.0.1:8000/v1', prefill: false },
  lmstudio: { family: 'openai', default_base_url: 'http://127.0.0.1:1234/v1', prefill: false },
} as const satisfies Record<string, ProviderTypeInfo>;

export type ProviderType = keyof typeof PROVIDER_TYPES;

/** Azure OpenAI's `api-version` when the config gives none (a GA version). */
export const DEFAULT_AZURE_API_VERSION = '2024-10-21';
/** Anthropic's `anthropic-version` header when the config gives none. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';
