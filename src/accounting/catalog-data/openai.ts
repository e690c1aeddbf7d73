/**
 * OpenAI's models (also what Azure OpenAI serves, under the same model names). Windows are the total context
 * (prompt + output); the GPT-5 family accepts at most 272,000 input tokens of its 400,000.
 * Sources: https://platform.openai.com/docs/pricing, https://platform.openai.com/docs/models
 */
import type { CatalogEntry } from '../catalog.js';
import { EMBEDDING, MULTIMODAL, TEXT_TOOLS, usd } from './shared.js';

const RETIRED = 'older model, kept for configs that still name it; figures as last published';

export const OPENAI_MODELS: readonly CatalogEntry[] = [
  { id: 'gpt-5.1', context_window: 400_000, max_input_tokens: 272_000, max_output_tokens: 128_000, price: usd(1.25, 10, 0.125), capabilities: MULTIMODAL },
  { id: 'gpt-5', context_window: 400_000, max_input_tokens: 272_000, max_output_tokens: 128_000, price: usd(1.25, 10, 0.125), capabilities: MULTIMODAL },
  { id: 'gpt-5-mini', context_window: 400_000, max_input_tokens: 272_000, max_output_tokens: 128_000, price: usd(0.25, 2, 0.025), capabilities: MULTIMODAL },
  { id: 'gpt-5-nano', context_window: 400_000, max_input_tokens: 272_000, max_output_tokens: 128_000, price: usd(0.05, 0.4, 0.005), capabilities: MULTIMODAL },
  { id: 'gpt-4.1', context_window: 1_047_576, max_output_tokens: 32_768, price: usd(2, 8, 0.5), capabilities: MULTIMODAL },
  { id: 'gpt-4.1-mini', context_window: 1_047_576, max_output_tokens: 32_768, price: usd(0.4, 1.6, 0.1), capabilities: MULTIMODAL },
  { id: 'gpt-4.1-nano', context_window: 1_047_576, max_output_tokens: 32_768, price: usd(0.1, 0.4, 0.025), capabilities: MULTIMODAL },
  { id: 'gpt-4o', context_window: 128_000, max_output_tokens: 16_384, price: usd(2.5, 10, 1.25), capabilities: MULTIMODAL },
  {
    // The first gpt-4o snapshot kept its launch price and a 4,096-token output cap; listed so the date
    // stripping that maps other snapshots to gpt-4o does not give it gpt-4o's numbers.
    id: 'gpt-4o-2024-05-13',
    context_window: 128_000,
    max_output_tokens: 4_096,
    price: usd(5, 15),
    capabilities: MULTIMODAL,
  },
  { id: 'gpt-4o-mini', context_window: 128_000, max_output_tokens: 16_384, price: usd(0.15, 0.6, 0.075), capabilities: MULTIMODAL },
  { id: 'o3', context_window: 200_000, max_output_tokens: 100_000, price: usd(2, 8, 0.5), capabilities: MULTIMODAL },
  { id: 'o4-mini', context_window: 200_000, max_output_tokens: 100_000, price: usd(1.1, 4.4, 0.275), capabilities: MULTIMODAL },
  { id: 'o3-mini', context_window: 200_000, max_output_tokens: 100_000, price: usd(1.1, 4.4, 0.55), capabilities: TEXT_TOOLS },
  { id: 'o1', context_window: 200_000, max_output_tokens: 100_000, price: usd(15, 60, 7.5), capabilities: MULTIMODAL },
  {
    id: 'gpt-4-turbo',
    aliases: ['gpt-4-turbo-preview', 'gpt-4-0125-preview', 'gpt-4-1106-preview'],
    context_window: 128_000,
    max_output_tokens: 4_096,
    price: usd(10, 30),
    capabilities: MULTIMODAL,
    note: RETIRED,
  },
  {
    id: 'gpt-3.5-turbo',
    aliases: ['gpt-35-turbo'], // Azure's model name
    context_window: 16_385,
    max_output_tokens: 4_096,
    price: usd(0.5, 1.5),
    capabilities: TEXT_TOOLS,
    note: RETIRED,
  },
  { id: 'text-embedding-3-small', kind: 'embedding', context_window: 8_191, max_output_tokens: 0, price: usd(0.02, 0), capabilities: EMBEDDING },
  { id: 'text-embedding-3-large', kind: 'embedding', context_window: 8_191, max_output_tokens: 0, price: usd(0.13, 0), capabilities: EMBEDDING },
  { id: 'text-embedding-ada-002', kind: 'embedding', context_window: 8_191, max_output_tokens: 0, price: usd(0.1, 0), capabilities: EMBEDDING },
];
