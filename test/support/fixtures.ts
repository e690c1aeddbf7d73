/**
 * Inputs built by hand for tests that call a provider, the transport or the secrets code directly, without
 * `resolveConfig`: a resolved provider and a deployment on it. Each test passes the fields it depends on.
 */
import type { ProviderConfig } from '../../src/config/types.js';
import type { Deployment } from '../../src/types.js';

/**
 * A resolved provider, every field present as `resolveConfig` leaves it: an OpenAI-type provider named `up`
 * with no proxy, no extra headers, no version, region or AWS credentials and no prefill; `overrides` on top.
 */
export function providerConfig(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return {
    name: 'up',
    type: 'openai',
    api_key: 'k-123456',
    base_url: 'http://127.0.0.1:1/v1',
    proxy: undefined,
    headers: {},
    api_version: undefined,
    region: undefined,
    aws: undefined,
    supports_prefill: false,
    supports_prefill_set: false,
    ...overrides,
  };
}

/** A deployment of `model` on `provider`, its id `provider/model` as the routes name it. */
export function deployment(provider: ProviderConfig, model = 'm'): Deployment {
  return { id: `${provider.name}/${model}`, provider, model };
}
