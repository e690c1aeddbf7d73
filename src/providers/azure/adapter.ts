import { DEFAULT_AZURE_API_VERSION } from '../../config/provider-types.js';
import { openAICompatible } from '../openai/adapter.js';
import type { Operation } from '../../types.js';

/**
 * Azure OpenAI: the OpenAI wire format at a deployment URL with `api-version`, and an `api-key` header.
 * The target's `model` is the Azure deployment name. Several regions are several providers.
 * Content-filter refusals (400 `content_filter`) classify as content_policy like OpenAI's.
 */
const AZURE_PATHS: Record<Exclude<Operation, 'responses'>, string> = {
  chat: 'chat/completions',
  embeddings: 'embeddings',
};

export const azureProvider = {
  ...openAICompatible({
    url(op, d) {
      const version = encodeURIComponent(d.provider.api_version ?? DEFAULT_AZURE_API_VERSION);
      const path = AZURE_PATHS[op as Exclude<Operation, 'responses'>];
      return `${d.provider.base_url}/openai/deployments/${encodeURIComponent(d.model)}/${path}?api-version=${version}`;
    },
    auth: (d): Record<string, string> => (d.provider.api_key ? { 'api-key': d.provider.api_key } : {}),
    // Azure OpenAI's data-plane "Models - List": free, and answered with the resource's key.
    modelsUrl: (d) => `${d.provider.base_url}/openai/models?api-version=${encodeURIComponent(d.provider.api_version ?? DEFAULT_AZURE_API_VERSION)}`,
  }),
  unsupported: ['responses'] as const,
};
