import type { Price, ProviderType, TargetConfig } from '../config/types.js';

/** What a deployment can do, for routing decisions. */
export interface Capabilities {
  tools: boolean;
  vision: boolean;
  prefill: boolean;
  json: boolean;
}

/** One model of the catalog. */
export interface CatalogEntry {
  /** The model id the provider knows (canonical form, no date suffix unless the id has one). */
  id: string;
  context_window: number;
  max_output_tokens: number;
  /** USD per 1M tokens. */
  price: Price;
  capabilities: Capabilities;
}

/** A target's limits and price: its config overrides on top of the catalog. */
export interface ModelInfo {
  context_window: number | undefined;
  max_output_tokens: number | undefined;
  price: Price | undefined;
  capabilities: Capabilities | undefined;
  /** Where the numbers came from. */
  source: 'config' | 'catalog' | 'config+catalog' | 'unknown';
}

/** The catalog entry for a model served by a provider of this type, if known. (Stub: filled by the catalog work.) */
export function lookupModel(_type: ProviderType, _model: string): CatalogEntry | undefined {
  return undefined;
}

/** A target's limits and price: config first, then the catalog. */
export function resolveModelInfo(type: ProviderType, target: TargetConfig): ModelInfo {
  const entry = lookupModel(type, target.model);
  const fromConfig = target.context_window !== undefined || target.max_output_tokens !== undefined || target.price !== undefined;
  return {
    context_window: target.context_window ?? entry?.context_window,
    max_output_tokens: target.max_output_tokens ?? entry?.max_output_tokens,
    price: target.price ?? entry?.price,
    capabilities: entry?.capabilities,
    source: fromConfig ? (entry ? 'config+catalog' : 'config') : entry ? 'catalog' : 'unknown',
  };
}
