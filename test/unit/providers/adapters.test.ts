import { describe, expect, it } from 'vitest';
import type { ProviderType } from '../../../src/config/provider-types.js';
import { adapterFor } from '../../../src/providers/index.js';
import { deployment, providerConfig } from '../../support/fixtures.js';

/** What the mock (and a proxy in front of a provider) may send: every provider's request-id header at once. */
const ALL = { 'x-request-id': 'proxy-1', 'request-id': 'req_anthropic_1', 'x-amzn-requestid': 'amzn-1' };

const d = (type: ProviderType, model = 'm') =>
  deployment(providerConfig({ name: type, type, ...(type === 'bedrock' ? { region: 'us-east-1', aws: { access_key_id: 'AKID', secret_access_key: 's', session_token: undefined } } : {}) }), model);

describe('each adapter names the header its upstream request id comes in', () => {
  it.each([
    ['openai', 'proxy-1'],
    ['azure', 'proxy-1'],
    ['groq', 'proxy-1'],
    ['anthropic', 'req_anthropic_1'],
    ['gemini', 'proxy-1'],
    ['bedrock', 'amzn-1'],
  ] as const)('%s → %s', (type, id) => {
    expect(adapterFor(type).upstreamRequestId(ALL)).toBe(id);
  });

  it('an error carries the same id as the attempt that got it (one rule per provider, not one per caller)', () => {
    for (const type of ['openai', 'anthropic', 'gemini', 'bedrock'] as const) {
      const adapter = adapterFor(type);
      const error = adapter.classifyError(500, ALL, '{}', d(type));
      expect(error.upstreamRequestId, type).toBe(adapter.upstreamRequestId(ALL));
    }
  });

  it('Anthropic falls back to a proxy x-request-id when it has no request-id; the others have one header', () => {
    expect(adapterFor('anthropic').upstreamRequestId({ 'x-request-id': 'proxy-1' })).toBe('proxy-1');
    expect(adapterFor('bedrock').upstreamRequestId({ 'x-request-id': 'proxy-1' })).toBeUndefined();
    expect(adapterFor('openai').upstreamRequestId({ 'request-id': 'req_1' })).toBeUndefined();
    expect(adapterFor('openai').upstreamRequestId({ 'x-request-id': ['a', 'b'] })).toBe('a');
  });
});

describe('prefill per model: the adapter decides when its models differ', () => {
  it('Bedrock asks the catalog: Claude continues a prefill, Llama does not, an unknown model leaves it to the type', () => {
    const bedrock = adapterFor('bedrock');
    expect(bedrock.canPrefill?.(d('bedrock', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0'))).toBe(true);
    expect(bedrock.canPrefill?.(d('bedrock', 'meta.llama3-3-70b-instruct-v1:0'))).toBe(false);
    expect(bedrock.canPrefill?.(d('bedrock', 'not-in-the-catalog'))).toBeUndefined();
  });

  it('the single-vendor providers leave it to the type default (no per-model rule)', () => {
    for (const type of ['openai', 'anthropic', 'gemini', 'azure', 'deepseek'] as const) expect(adapterFor(type).canPrefill, type).toBeUndefined();
  });
});
