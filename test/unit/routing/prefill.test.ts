import { describe, expect, it } from 'vitest';
import type { ProviderConfig, TargetConfig } from '../../../src/config/types.js';
import { canPrefill } from '../../../src/routing/deployments.js';
import type { RoutedTarget } from '../../../src/routing/routes.js';
import { deployment, providerConfig } from '../../support/fixtures.js';

const CLAUDE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const LLAMA = 'meta.llama3-3-70b-instruct-v1:0';

function target(provider: Partial<ProviderConfig>, model: string): RoutedTarget {
  const d = deployment(providerConfig(provider), model);
  return { deployment: d, target: { provider: d.provider.name, model } as TargetConfig };
}

describe('canPrefill: the config when it says, else the adapter per model, else the type default', () => {
  it('Bedrock: the catalog per model, unless the config sets supports_prefill', () => {
    const bedrock = { type: 'bedrock' as const, supports_prefill: false };
    expect(canPrefill(target(bedrock, CLAUDE))).toBe(true);
    expect(canPrefill(target(bedrock, LLAMA))).toBe(false);
    expect(canPrefill(target({ ...bedrock, supports_prefill: true }, 'not-in-the-catalog'))).toBe(true);
    expect(canPrefill(target({ ...bedrock, supports_prefill_set: true }, CLAUDE))).toBe(false);
    expect(canPrefill(target({ ...bedrock, supports_prefill: true, supports_prefill_set: true }, LLAMA))).toBe(true);
  });

  it('a provider without a per-model rule: its resolved supports_prefill (the type default or the config)', () => {
    expect(canPrefill(target({ type: 'anthropic', supports_prefill: true }, 'claude-sonnet-4-5'))).toBe(true);
    expect(canPrefill(target({ type: 'openai', supports_prefill: false }, 'gpt-4o'))).toBe(false);
    expect(canPrefill(target({ type: 'openai', supports_prefill: true, supports_prefill_set: true }, 'gpt-4o'))).toBe(true);
  });
});
