/**
 * Amazon Bedrock model ids (what the Converse API takes), on-demand prices in US regions. A cross-region
 * inference profile (`us.`, `eu.`, `apac.`, `global.` …) is the same model: the lookup strips the prefix.
 * Claude 4.5-generation models cost 10% more on regional (non-global) endpoints than listed here.
 * Sources: https://aws.amazon.com/bedrock/pricing/, https://docs.aws.amazon.com/bedrock/latest/userguide/models-supported.html
 */
import type { CatalogEntry } from '../catalog.js';
import { CLAUDE, CONVERSE_TOOLS, CONVERSE_VISION, TEXT_ONLY, usd } from './shared.js';

const REGIONAL_PREMIUM = 'global-endpoint price; regional endpoints cost 10% more';
const LLAMA = 'Bedrock output cap and price from memory of the AWS pages, not re-checked';
const NOVA = 'output cap 5K as on the Nova Lite model card; assumed the same for Pro and Micro';

export const BEDROCK_MODELS: readonly CatalogEntry[] = [
  {
    id: 'anthropic.claude-opus-4-5-20251101-v1:0',
    context_window: 200_000,
    max_output_tokens: 64_000,
    price: usd(5, 25, 0.5),
    capabilities: CLAUDE,
    note: REGIONAL_PREMIUM,
  },
  {
    id: 'anthropic.claude-sonnet-4-5-20250929-v1:0',
    context_window: 200_000,
    max_output_tokens: 64_000,
    price: usd(3, 15, 0.3),
    capabilities: CLAUDE,
    note: REGIONAL_PREMIUM,
  },
  {
    id: 'anthropic.claude-haiku-4-5-20251001-v1:0',
    context_window: 200_000,
    max_output_tokens: 64_000,
    price: usd(1, 5, 0.1),
    capabilities: CLAUDE,
    note: REGIONAL_PREMIUM,
  },
  { id: 'anthropic.claude-opus-4-1-20250805-v1:0', context_window: 200_000, max_output_tokens: 32_000, price: usd(15, 75, 1.5), capabilities: CLAUDE },
  { id: 'anthropic.claude-opus-4-20250514-v1:0', context_window: 200_000, max_output_tokens: 32_000, price: usd(15, 75, 1.5), capabilities: CLAUDE },
  { id: 'anthropic.claude-sonnet-4-20250514-v1:0', context_window: 200_000, max_output_tokens: 64_000, price: usd(3, 15, 0.3), capabilities: CLAUDE },
  { id: 'anthropic.claude-3-7-sonnet-20250219-v1:0', context_window: 200_000, max_output_tokens: 64_000, price: usd(3, 15, 0.3), capabilities: CLAUDE },
  {
    id: 'anthropic.claude-3-5-sonnet-20241022-v2:0',
    aliases: ['anthropic.claude-3-5-sonnet-20240620-v1:0'],
    context_window: 200_000,
    max_output_tokens: 8_192,
    price: usd(3, 15),
    capabilities: CLAUDE,
  },
  { id: 'anthropic.claude-3-5-haiku-20241022-v1:0', context_window: 200_000, max_output_tokens: 8_192, price: usd(0.8, 4, 0.08), capabilities: CLAUDE },
  { id: 'anthropic.claude-3-haiku-20240307-v1:0', context_window: 200_000, max_output_tokens: 4_096, price: usd(0.25, 1.25), capabilities: CLAUDE },
  { id: 'amazon.nova-pro-v1:0', context_window: 300_000, max_output_tokens: 5_000, price: usd(0.8, 3.2, 0.2), capabilities: CONVERSE_VISION, note: NOVA },
  { id: 'amazon.nova-lite-v1:0', context_window: 300_000, max_output_tokens: 5_000, price: usd(0.06, 0.24, 0.015), capabilities: CONVERSE_VISION, note: NOVA },
  { id: 'amazon.nova-micro-v1:0', context_window: 128_000, max_output_tokens: 5_000, price: usd(0.035, 0.14, 0.00875), capabilities: CONVERSE_TOOLS, note: NOVA },
  { id: 'meta.llama3-3-70b-instruct-v1:0', context_window: 128_000, max_output_tokens: 8_192, price: usd(0.72, 0.72), capabilities: CONVERSE_TOOLS, note: LLAMA },
  { id: 'meta.llama3-1-70b-instruct-v1:0', context_window: 128_000, max_output_tokens: 2_048, price: usd(0.72, 0.72), capabilities: CONVERSE_TOOLS, note: LLAMA },
  { id: 'meta.llama3-1-8b-instruct-v1:0', context_window: 128_000, max_output_tokens: 2_048, price: usd(0.22, 0.22), capabilities: CONVERSE_TOOLS, note: LLAMA },
  { id: 'meta.llama3-70b-instruct-v1:0', context_window: 8_192, max_output_tokens: 2_048, price: usd(2.65, 3.5), capabilities: TEXT_ONLY, note: LLAMA },
  { id: 'meta.llama3-8b-instruct-v1:0', context_window: 8_192, max_output_tokens: 2_048, price: usd(0.3, 0.6), capabilities: TEXT_ONLY, note: LLAMA },
];
