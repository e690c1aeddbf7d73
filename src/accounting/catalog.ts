/**
 * The model catalog: what a provider's model can hold (context window, output cap), what it costs, and what it
 * can do. The numbers live in catalog-data/ (one file per provider family); this module finds the entry for a
 * deployment. It is consulted once per target at startup (and by `lifeline models`), never per request.
 *
 * A config's per-target `context_window`, `max_output_tokens` and `price` always win over the catalog: they
 * are how a model the catalog does not know (an Azure deployment with an arbitrary name, a local model, a
 * negotiated price) gets its numbers.
 */
import type { Price, ProviderType, TargetConfig } from '../config/types.js';
import { CATALOG, type CatalogFamily } from './catalog-data.js';

/** What a deployment can do, for routing decisions. */
export interface Capabilities {
  /** Function / tool calling. */
  tools: boolean;
  /** Image input. */
  vision: boolean;
  /** Continues a trailing assistant message (Anthropic natively; DeepSeek and Mistral with `prefix: true`). */
  prefill: boolean;
  /** JSON mode (`response_format`) honoured by the provider as Lifeline calls it. */
  json: boolean;
}

/** One model of the catalog. */
export interface CatalogEntry {
  /** The model id the provider knows (canonical form, no date suffix unless the id has one). */
  id: string;
  context_window: number;
  /**
   * Most output tokens per response. Where the provider publishes no cap of its own, the context window
   * (the output shares it). 0 for embedding models, which produce none.
   */
  max_output_tokens: number;
  /** Most prompt tokens, where the provider caps the prompt inside the window (GPT-5: 272,000 of 400,000). */
  max_input_tokens?: number;
  /** USD per 1M tokens. */
  price: Price;
  capabilities: Capabilities;
  /** `chat` when absent. */
  kind?: 'chat' | 'embedding';
  /** Other ids the provider accepts for exactly this model (undated aliases, Azure's model names). */
  aliases?: readonly string[];
  /** Why a figure is uncertain, tiered or about to change; entries without a note were checked against the sources. */
  note?: string;
}

/** A target's limits and price: its config overrides on top of the catalog. */
export interface ModelInfo {
  context_window: number | undefined;
  max_output_tokens: number | undefined;
  /** A cap on the prompt inside the window; undefined when the prompt may fill it. */
  max_input_tokens: number | undefined;
  price: Price | undefined;
  capabilities: Capabilities | undefined;
  /** Where the numbers came from. */
  source: 'config' | 'catalog' | 'config+catalog' | 'unknown';
}

/**
 * Which catalog families a provider type's own models come from, searched in order. Azure serves OpenAI's
 * models (by deployment name: see `lookupModel`); local hosts (ollama, vllm, lmstudio) have none, because
 * their limits depend on how the model is run and they cost nothing per token.
 */
const OWN_FAMILIES: Readonly<Record<ProviderType, readonly CatalogFamily[]>> = {
  openai: ['openai'],
  azure: ['openai'],
  anthropic: ['anthropic'],
  gemini: ['gemini'],
  bedrock: ['bedrock'],
  groq: ['groq'],
  together: ['together'],
  fireworks: ['fireworks'],
  deepseek: ['deepseek'],
  mistral: ['mistral'],
  openrouter: [],
  xai: ['xai'],
  perplexity: ['perplexity'],
  cerebras: ['cerebras'],
  ollama: [],
  vllm: [],
  lmstudio: [],
};

/** OpenAI-compatible hosts that resell other vendors' models: a model not of their own is looked up everywhere. */
const RESELLERS: ReadonlySet<ProviderType> = new Set(['groq', 'together', 'fireworks', 'deepseek', 'mistral', 'openrouter', 'xai', 'perplexity', 'cerebras']);
const LOCAL: ReadonlySet<ProviderType> = new Set(['ollama', 'vllm', 'lmstudio']);

/** `vendor/model` names (OpenRouter's, and any OpenAI-compatible router's): the vendor says which family. */
const VENDOR_FAMILIES: Readonly<Record<string, CatalogFamily>> = {
  openai: 'openai',
  anthropic: 'anthropic',
  google: 'gemini',
  deepseek: 'deepseek',
  mistralai: 'mistral',
  'x-ai': 'xai',
  xai: 'xai',
};

/*
 * Only suffixes and prefixes of a known shape are stripped, each on its own: a longest-prefix match would
 * turn `gpt-4o-mini-2024-07-18` into gpt-4o, a different price.
 */
const GEMINI_PREFIX = /^models\//;
const BEDROCK_REGION = /^(?:us|eu|apac|global|us-gov|jp|au|ca)\.(?=[a-z0-9-]+\.)/; // us.anthropic.claude-…
const BEDROCK_REVISION = /:\d+(?::\d+k)?$/; // …-v1:0, …-v1:0:200k (context-length variants)
// …-v1 once the revision is gone; only on Bedrock ids (`vendor.model`), so `deepseek-v3` keeps its version.
const BEDROCK_VERSION = /^((?:anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer)\..+)-v\d+$/;
const LATEST = /-latest$/;
const DATE_SUFFIXES = [
  /-\d{4}-\d{2}-\d{2}$/, // OpenAI snapshots: gpt-4o-2024-08-06
  /[-@]\d{8}$/, // Anthropic: claude-sonnet-4-5-20250929; Vertex: claude-sonnet-4-5@20250929
  /-\d{4}$/, // OpenAI MMDD (gpt-3.5-turbo-0125), Mistral YYMM (mistral-large-2411), xAI (grok-4-0709)
  /-\d{3}$/, // Gemini stable versions: gemini-2.0-flash-001
];

/** The forms of a model name to try, most specific first: the name itself, then each known suffix or prefix removed. */
export function nameCandidates(model: string): string[] {
  const out: string[] = [];
  const add = (name: string): string => {
    if (name !== '' && !out.includes(name)) out.push(name);
    return name;
  };
  let name = add(model.trim().toLowerCase());
  name = add(name.replace(GEMINI_PREFIX, ''));
  name = add(name.replace(BEDROCK_REGION, ''));
  name = add(name.replace(BEDROCK_REVISION, ''));
  name = add(name.replace(BEDROCK_VERSION, '$1'));
  name = add(name.replace(LATEST, ''));
  for (const suffix of DATE_SUFFIXES) {
    if (suffix.test(name)) {
      add(name.replace(suffix, ''));
      break;
    }
  }
  return out;
}

/** The fully stripped form: two names with the same canonical form are the same model (up to a snapshot). */
function canonical(model: string): string {
  const names = nameCandidates(model);
  return names[names.length - 1]!;
}

interface FamilyIndex {
  /** Ids and aliases as written (lower-cased). */
  exact: Map<string, CatalogEntry>;
  /** Canonical forms; on a clash the entry listed first keeps it (families list the current snapshot first). */
  canonical: Map<string, CatalogEntry>;
}

const INDEX: ReadonlyMap<CatalogFamily, FamilyIndex> = buildIndex();

function buildIndex(): Map<CatalogFamily, FamilyIndex> {
  const index = new Map<CatalogFamily, FamilyIndex>();
  for (const [family, entries] of Object.entries(CATALOG) as [CatalogFamily, readonly CatalogEntry[]][]) {
    const exact = new Map<string, CatalogEntry>();
    const canon = new Map<string, CatalogEntry>();
    for (const entry of entries) {
      for (const name of [entry.id, ...(entry.aliases ?? [])]) {
        const key = name.toLowerCase();
        if (!exact.has(key)) exact.set(key, entry);
        const form = canonical(name);
        if (!canon.has(form)) canon.set(form, entry);
      }
    }
    index.set(family, { exact, canonical: canon });
  }
  return index;
}

function findInFamily(family: CatalogFamily, model: string): CatalogEntry | undefined {
  const index = INDEX.get(family);
  if (!index) return undefined;
  const names = nameCandidates(model);
  for (const name of names) {
    const hit = index.exact.get(name);
    if (hit) return hit;
  }
  return index.canonical.get(names[names.length - 1]!);
}

/** `anthropic/claude-sonnet-4.5` → anthropic, `claude-sonnet-4-5` (OpenRouter writes versions with dots). */
function vendorModel(model: string): { family: CatalogFamily; model: string } | undefined {
  const slash = model.indexOf('/');
  if (slash <= 0) return undefined;
  const family = VENDOR_FAMILIES[model.slice(0, slash).toLowerCase()];
  if (!family) return undefined;
  const rest = model.slice(slash + 1);
  return { family, model: family === 'anthropic' ? rest.replace(/(\d)\.(\d)/g, '$1-$2') : rest };
}

/**
 * The catalog entry for a model served by a provider of this type, if known.
 *
 * 1. The type's own family (openai and azure → OpenAI; anthropic; gemini; bedrock; each preset its own),
 *    first by the name as given, then with known decorations removed one at a time: a `models/` prefix, a
 *    Bedrock cross-region prefix (`us.`, `eu.`, `apac.`, `global.` …), a Bedrock `:0` revision and `-v1`
 *    version, `-latest`, a snapshot date (`-2024-08-06`, `-20250929`, `@20250929`, `-0125`, `-001`).
 * 2. On OpenAI-compatible types, a `vendor/model` name (`openai/gpt-4o`, `anthropic/claude-sonnet-4.5`,
 *    `google/gemini-2.5-pro`) is looked up in the vendor's family.
 * 3. On hosts that resell other vendors' models (the presets, OpenRouter), any family by the exact id.
 *
 * An Azure deployment is looked up by its deployment name, which is arbitrary: name the deployment after the
 * model (`gpt-4o`) or give the target `context_window`, `max_output_tokens` and `price` in the config.
 * Local hosts (ollama, vllm, lmstudio) have no catalog entries.
 */
export function lookupModel(type: ProviderType, model: string): CatalogEntry | undefined {
  if (LOCAL.has(type)) return undefined;
  for (const family of OWN_FAMILIES[type]) {
    const hit = findInFamily(family, model);
    if (hit) return hit;
  }
  if (type !== 'anthropic' && type !== 'gemini' && type !== 'bedrock') {
    const vendor = vendorModel(model);
    if (vendor) {
      const hit = findInFamily(vendor.family, vendor.model);
      if (hit) return hit;
    }
  }
  if (RESELLERS.has(type)) {
    const key = model.trim().toLowerCase();
    for (const index of INDEX.values()) {
      const hit = index.exact.get(key);
      if (hit) return hit;
    }
  }
  return undefined;
}

/**
 * A target's limits and price: config first, then the catalog. A configured `price` replaces the catalog's
 * whole (a negotiated price need not keep the list price's cache discount); capabilities come from the
 * catalog only. An embedding model's output cap (0) is reported as unknown: it bounds nothing.
 */
export function resolveModelInfo(type: ProviderType, target: TargetConfig): ModelInfo {
  const entry = lookupModel(type, target.model);
  const fromConfig =
    target.context_window !== undefined || target.max_output_tokens !== undefined || target.max_input_tokens !== undefined || target.price !== undefined;
  const catalogOutput = entry && entry.max_output_tokens > 0 ? entry.max_output_tokens : undefined;
  return {
    context_window: target.context_window ?? entry?.context_window,
    max_output_tokens: target.max_output_tokens ?? catalogOutput,
    // A configured window is the whole story unless the config also caps the prompt.
    max_input_tokens: target.max_input_tokens ?? (target.context_window === undefined ? entry?.max_input_tokens : undefined),
    price: target.price ?? entry?.price,
    capabilities: entry?.capabilities,
    source: fromConfig ? (entry ? 'config+catalog' : 'config') : entry ? 'catalog' : 'unknown',
  };
}
