/**
 * Google's Gemini models on the Gemini API (generativelanguage.googleapis.com). Prices are for the standard
 * paid tier at the shorter prompt length: Gemini 2.5 Pro and 3 Pro charge more past 200K prompt tokens,
 * Gemini 1.5 past 128K. `cached_input` is the context-caching price per 1M tokens (storage is billed apart).
 * Sources: https://ai.google.dev/gemini-api/docs/pricing, https://ai.google.dev/gemini-api/docs/models
 */
import type { CatalogEntry } from '../catalog.js';
import { EMBEDDING, MULTIMODAL, usd } from './shared.js';

const SHUT_DOWN = 'shut down by Google; kept for configs that still name it, figures as last published';

export const GEMINI_MODELS: readonly CatalogEntry[] = [
  {
    id: 'gemini-3-pro-preview',
    context_window: 1_048_576,
    max_output_tokens: 65_536,
    price: usd(2, 12, 0.2),
    capabilities: MULTIMODAL,
    note: 'preview; $4 / $18 past 200K prompt tokens',
  },
  {
    id: 'gemini-2.5-pro',
    context_window: 1_048_576,
    max_output_tokens: 65_536,
    price: usd(1.25, 10, 0.125),
    capabilities: MULTIMODAL,
    note: '$2.50 / $15 past 200K prompt tokens',
  },
  {
    id: 'gemini-2.5-flash',
    context_window: 1_048_576,
    max_output_tokens: 65_536,
    price: usd(0.3, 2.5, 0.03),
    capabilities: MULTIMODAL,
    note: 'text price (audio input costs more); cached price lowered from $0.075 during 2025',
  },
  { id: 'gemini-2.5-flash-lite', context_window: 1_048_576, max_output_tokens: 65_536, price: usd(0.1, 0.4, 0.01), capabilities: MULTIMODAL },
  { id: 'gemini-2.0-flash', context_window: 1_048_576, max_output_tokens: 8_192, price: usd(0.1, 0.4, 0.025), capabilities: MULTIMODAL, note: SHUT_DOWN },
  { id: 'gemini-2.0-flash-lite', context_window: 1_048_576, max_output_tokens: 8_192, price: usd(0.075, 0.3), capabilities: MULTIMODAL, note: SHUT_DOWN },
  { id: 'gemini-1.5-pro', context_window: 2_097_152, max_output_tokens: 8_192, price: usd(1.25, 5, 0.3125), capabilities: MULTIMODAL, note: SHUT_DOWN },
  { id: 'gemini-1.5-flash', context_window: 1_048_576, max_output_tokens: 8_192, price: usd(0.075, 0.3, 0.01875), capabilities: MULTIMODAL, note: SHUT_DOWN },
  {
    id: 'gemini-embedding-001',
    kind: 'embedding',
    context_window: 2_048,
    max_output_tokens: 0,
    price: usd(0.15, 0),
    capabilities: EMBEDDING,
  },
  {
    id: 'text-embedding-004',
    kind: 'embedding',
    context_window: 2_048,
    max_output_tokens: 0,
    price: usd(0, 0),
    capabilities: EMBEDDING,
    note: 'free of charge on the Gemini API while it was offered; superseded by gemini-embedding-001',
  },
];
