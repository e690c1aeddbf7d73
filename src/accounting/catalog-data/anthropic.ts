/**
 * Anthropic's Claude models on the Claude API. `cached_input` is the cache-hit price (0.1× input); cache
 * writes (1.25× for 5 minutes, 2× for an hour) are not modelled. Windows are the standard ones: the 1M-token
 * beta of Sonnet 4/4.5 is opt-in and priced higher past 200K (a target that sends the beta header sets
 * `context_window: 1000000` in the config).
 * Sources: https://platform.claude.com/docs/en/about-claude/models/overview,
 * https://platform.claude.com/docs/en/about-claude/pricing
 */
import type { CatalogEntry } from '../catalog.js';
import { CLAUDE, usd } from './shared.js';

export const ANTHROPIC_MODELS: readonly CatalogEntry[] = [
  {
    id: 'claude-opus-4-6',
    context_window: 1_000_000,
    max_output_tokens: 128_000,
    price: usd(5, 25, 0.5),
    capabilities: CLAUDE,
    note: 'window as on its model page (earlier pages: 200K, 1M in beta); long prompts may be priced higher',
  },
  {
    id: 'claude-sonnet-4-6',
    context_window: 1_000_000,
    max_output_tokens: 128_000,
    price: usd(3, 15, 0.3),
    capabilities: CLAUDE,
    note: 'window and output cap as on its model page; some resellers list 64K output',
  },
  { id: 'claude-opus-4-5-20251101', aliases: ['claude-opus-4-5'], context_window: 200_000, max_output_tokens: 64_000, price: usd(5, 25, 0.5), capabilities: CLAUDE },
  { id: 'claude-sonnet-4-5-20250929', aliases: ['claude-sonnet-4-5'], context_window: 200_000, max_output_tokens: 64_000, price: usd(3, 15, 0.3), capabilities: CLAUDE },
  { id: 'claude-haiku-4-5-20251001', aliases: ['claude-haiku-4-5'], context_window: 200_000, max_output_tokens: 64_000, price: usd(1, 5, 0.1), capabilities: CLAUDE },
  { id: 'claude-opus-4-1-20250805', aliases: ['claude-opus-4-1'], context_window: 200_000, max_output_tokens: 32_000, price: usd(15, 75, 1.5), capabilities: CLAUDE },
  { id: 'claude-opus-4-20250514', aliases: ['claude-opus-4-0'], context_window: 200_000, max_output_tokens: 32_000, price: usd(15, 75, 1.5), capabilities: CLAUDE },
  { id: 'claude-sonnet-4-20250514', aliases: ['claude-sonnet-4-0'], context_window: 200_000, max_output_tokens: 64_000, price: usd(3, 15, 0.3), capabilities: CLAUDE },
  {
    id: 'claude-3-7-sonnet-20250219',
    aliases: ['claude-3-7-sonnet-latest'],
    context_window: 200_000,
    max_output_tokens: 64_000,
    price: usd(3, 15, 0.3),
    capabilities: CLAUDE,
    note: 'deprecated by Anthropic',
  },
  {
    id: 'claude-3-5-sonnet-20241022',
    aliases: ['claude-3-5-sonnet-20240620', 'claude-3-5-sonnet-latest'],
    context_window: 200_000,
    max_output_tokens: 8_192,
    price: usd(3, 15, 0.3),
    capabilities: CLAUDE,
    note: 'retired by Anthropic; kept for configs that still name it',
  },
  { id: 'claude-3-5-haiku-20241022', aliases: ['claude-3-5-haiku-latest'], context_window: 200_000, max_output_tokens: 8_192, price: usd(0.8, 4, 0.08), capabilities: CLAUDE },
  { id: 'claude-3-haiku-20240307', context_window: 200_000, max_output_tokens: 4_096, price: usd(0.25, 1.25, 0.03), capabilities: CLAUDE },
];
