import type { ProviderType } from '../config/types.js';
import { openaiProvider } from './openai.js';
import type { ProviderAdapter } from './types.js';

export * from './types.js';
export { parseRetryAfter, parseRetryAfterValue } from './retry-hints.js';

const ADAPTERS: Record<ProviderType, ProviderAdapter> = {
  openai: openaiProvider,
};

export function adapterFor(type: ProviderType): ProviderAdapter {
  return ADAPTERS[type];
}
