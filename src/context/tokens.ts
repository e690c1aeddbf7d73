/**
 * Offline token counting: which BPE encoding a model uses, and text counts with it. No I/O: the encodings ship
 * inside gpt-tokenizer. Synchronous, because it runs on the request path (context-window fit, usage estimates
 * for streams that end without a usage block); long texts go through count-async.ts, which gives the event loop
 * turns, and every text is counted in pieces of bounded runs (pieces.ts).
 *
 * OpenAI models are counted with their own encoding (exact for text). Every other family is counted with
 * cl100k_base and multiplied by a safety margin, because their tokenizers are not available offline. The margin
 * is meant to over-count: a context-fit check that over-counts falls back one model too early; one that
 * under-counts sends a request the upstream rejects with context_length.
 */
import { createRequire } from 'node:module';
import { spans } from './pieces.js';

export type EncodingName = 'o200k_base' | 'cl100k_base';

export type ModelFamily = 'openai' | 'anthropic' | 'google' | 'meta' | 'mistral' | 'deepseek' | 'qwen' | 'other';

export interface EncodingChoice {
  encoding: EncodingName;
  /** True for OpenAI models: text and per-message overhead match OpenAI's own count. */
  exact: boolean;
  /** Multiplier applied to the final count: 1 when exact, > 1 for estimated families. */
  margin: number;
  family: ModelFamily;
}

/*
 * Margins for families whose tokenizer is not available offline, relative to cl100k_base. These are engineering
 * judgement from public comparisons, not measurements of ours; raise one if real usage shows it under-counting.
 *
 * - Claude 1.30: Anthropic's tokenizer is closed; a published comparison (Claude 3.5 Sonnet vs GPT-4o, 2024)
 *   found ~16 % more tokens on English prose, ~21 % on math and ~30 % on code. 1.30 covers code-heavy prompts.
 * - Gemini / Gemma 1.20: a 256k-vocabulary SentencePiece model, close to cl100k on English and denser on
 *   non-Latin scripts; 1.20 leaves room for code and whitespace-heavy text, where it splits more finely.
 * - Llama 1.20: Llama 3+ uses a 128k tiktoken-derived BPE (counts close to cl100k); Llama 2 and its fine-tunes
 *   use a 32k SentencePiece vocabulary that needs noticeably more tokens, which the margin covers.
 * - Mistral family 1.25: older models use a 32k SentencePiece vocabulary (well above cl100k counts); the newer
 *   Tekken tokenizer (131k, tiktoken-based) is close to cl100k. The margin is set for the older ones.
 * - DeepSeek, Qwen 1.15: large byte-level BPE vocabularies (128k-152k; Qwen's extends cl100k), close to
 *   cl100k on English and denser on CJK; the margin covers chat-template tokens the recipe does not model.
 * - Anything else 1.25: unknown tokenizer, so the wider margin.
 *
 * Why cl100k_base (not o200k_base) as the base for estimates: o200k is markedly denser on non-English text, so
 * cl100k gives the higher, safer count for an estimate that must not under-count; the published comparisons
 * above are mostly against cl100k-era GPT-4; and it is half the load cost (see below).
 */
const FAMILY_MARGINS: Record<Exclude<ModelFamily, 'openai'>, number> = {
  anthropic: 1.3,
  google: 1.2,
  meta: 1.2,
  mistral: 1.25,
  deepseek: 1.15,
  qwen: 1.15,
  other: 1.25,
};

const FAMILY_PATTERNS: [Exclude<ModelFamily, 'openai' | 'other'>, RegExp][] = [
  ['anthropic', /claude|anthropic/],
  ['google', /gemini|gemma/],
  ['meta', /llama/],
  ['mistral', /mistral|mixtral|codestral|ministral|pixtral|magistral|devstral/],
  ['deepseek', /deepseek/],
  ['qwen', /qwen|qwq/],
];

// OpenAI model names, checked against the normalized name. o200k first: "gpt-4o" also starts with "gpt-4".
// gpt-oss uses o200k_harmony, whose ranks are o200k_base's plus special tokens: ordinary text counts the same.
const O200K_NAMES = 'gpt-?4o|gpt-?4\\.[15]|gpt-?5|gpt-?oss|chatgpt|gpt-(?:image|realtime|audio)|codex|omni-moderation';
const CL100K_NAMES = 'gpt-?4|gpt-?3\\.?5|text-embedding-(?:3|ada-002)';
const O200K_AT_START = new RegExp(`^(?:${O200K_NAMES}|o[134](?:-|$))`);
const CL100K_AT_START = new RegExp(`^(?:${CL100K_NAMES})`);
// Inside a longer name (Azure deployments such as "prod-gpt-4o-eastus"), on a word boundary. o1/o3/o4 are
// too short to trust there.
const O200K_INSIDE = new RegExp(`(?:^|[^a-z0-9])(?:${O200K_NAMES})`);
const CL100K_INSIDE = new RegExp(`(?:^|[^a-z0-9])(?:${CL100K_NAMES})`);

/**
 * The bare model name out of the spellings upstreams use: "openai/gpt-4o" (OpenRouter, Groq),
 * "publishers/google/models/gemini-1.5-pro" (Vertex), "us.anthropic.claude-…-v1:0" (Bedrock),
 * "ft:gpt-4o-mini-2024-07-18:org::id" (OpenAI fine-tunes), "llama3.1:8b" (Ollama tags).
 */
export function normalizeModelName(model: string): string {
  let name = model.trim().toLowerCase();
  if (name.startsWith('ft:')) name = name.slice(3);
  name = name.slice(name.lastIndexOf('/') + 1);
  name = name.replace(/^(?:[a-z]+\.)+(?=[a-z])/, ''); // Bedrock region and vendor prefixes: "us.", "anthropic."
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(0, colon);
}

function chooseEncoding(model: string): EncodingChoice {
  const name = normalizeModelName(model);
  const openai = (encoding: EncodingName): EncodingChoice => ({ encoding, exact: true, margin: 1, family: 'openai' });
  if (O200K_AT_START.test(name)) return openai('o200k_base');
  if (CL100K_AT_START.test(name)) return openai('cl100k_base');
  // Families are looked for in the whole string: Bedrock ids like "us.deepseek.r1-v1:0" name the vendor only
  // in the prefix the normalization strips.
  const raw = model.toLowerCase();
  for (const [family, pattern] of FAMILY_PATTERNS) {
    if (pattern.test(raw)) return { encoding: 'cl100k_base', exact: false, margin: FAMILY_MARGINS[family], family };
  }
  if (O200K_INSIDE.test(name)) return openai('o200k_base');
  if (CL100K_INSIDE.test(name)) return openai('cl100k_base');
  return { encoding: 'cl100k_base', exact: false, margin: FAMILY_MARGINS.other, family: 'other' };
}

// Model strings come from the config, so this stays small; the cap only guards against a caller that passes
// client-chosen strings.
const CHOICE_CACHE_LIMIT = 1024;
const choices = new Map<string, EncodingChoice>();

/** Which encoding counts `model`, whether the count is exact, and the margin applied when it is not. */
export function encodingFor(model: string): EncodingChoice {
  let choice = choices.get(model);
  if (choice === undefined) {
    choice = Object.freeze(chooseEncoding(model));
    if (choices.size >= CHOICE_CACHE_LIMIT) choices.clear();
    choices.set(model, choice);
  }
  return choice;
}

/*
 * Loading. The encodings are large modules (bpeRanks: cl100k 1.2 MB, o200k 2.4 MB of JS). Measured on Node 20
 * on the development box (fresh process, median of 3): cl100k_base 80-110 ms to require and +40 MB RSS
 * (+7 MB heap after GC); o200k_base 140-160 ms and +68 MB RSS (+14 MB heap after GC); both 270 ms and +82 MB
 * RSS (they share the core). The first count after loading takes another 1-4 ms; after that gpt-tokenizer counts
 * 3-4 MB of text a second. So each encoding is loaded on first use only, and a gateway that never counts never
 * pays; `preloadEncoding` lets a server pay at startup instead of on its first request.
 *
 * The load must be synchronous (counting runs inside synchronous request code), so the package's CommonJS
 * build is loaded with `createRequire`; it exposes one ("require" condition of its exports), which works the
 * same on Node 20, 22 and 24 without relying on require(esm).
 */
interface LoadedEncoding {
  countTokens(text: string, options: { disallowedSpecial: Set<string> }): number;
}

const requireCjs = createRequire(import.meta.url);
const MODULE_IDS: Record<EncodingName, string> = {
  o200k_base: 'gpt-tokenizer/encoding/o200k_base',
  cl100k_base: 'gpt-tokenizer/encoding/cl100k_base',
};
const loaded = new Map<EncodingName, LoadedEncoding>();

function load(encoding: EncodingName): LoadedEncoding {
  let api = loaded.get(encoding);
  if (api === undefined) {
    const mod: unknown = requireCjs(MODULE_IDS[encoding]);
    const countTokens = (mod as Partial<LoadedEncoding> | null)?.countTokens;
    if (typeof countTokens !== 'function') throw new Error(`gpt-tokenizer: ${MODULE_IDS[encoding]} has no countTokens`);
    api = mod as LoadedEncoding;
    loaded.set(encoding, api);
  }
  return api;
}

// A long run of letters, then a CJK run (merged through byte pairs that are not valid UTF-8): the two paths of
// gpt-tokenizer's merge loop that a bounded piece (pieces.ts) can make busy.
const WARM_UP = `${'x'.repeat(1000)} ${'中文'.repeat(170)}`;

/**
 * Loads an encoding now rather than on its first count (e.g. at server startup), and runs its merge loop once
 * on long runs: the first such merges in a process cost ~20-60 ms of JIT warm-up (measured on 0.4-2 KB runs)
 * against well under 1 ms after, better paid at startup than by the first request with a long run.
 */
export function preloadEncoding(encoding: EncodingName): void {
  load(encoding).countTokens(WARM_UP, PLAIN_TEXT);
}

// Text that spells a special token ("<|endoftext|>") is ordinary text to OpenAI's API: it is counted as the
// characters it is, never as the special token, and never rejected (gpt-tokenizer's default is to throw).
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/**
 * Tokens of `text` in `encoding`, without any margin: exact for text with the ordinary places to cut (pieces.ts),
 * a token or so over the exact count per stretch of MAX_RUN_BYTES that has none. Linear in the text's length
 * (gpt-tokenizer alone is quadratic in the longest run), but still one synchronous call: a long text is counted
 * with the async counters (count-async.ts), which give the event loop turns.
 */
export function countEncodedTokens(text: string, encoding: EncodingName): number {
  if (text.length === 0) return 0;
  let total = 0;
  for (const [from, to, forced] of spans(text, Number.POSITIVE_INFINITY)) {
    total += countPiece(from === 0 && to === text.length ? text : text.slice(from, to), encoding, forced);
  }
  return total;
}

/**
 * Tokens of one piece from `spans`/`pieces` (pieces.ts), so one whose runs are bounded. A piece that ends at a
 * forced cut counts one token more, because a context-window fit must not under-count: over 3,000 random runs of
 * 1.5-4.5 K characters (letters, mixed case, CJK, Thai, marks, punctuation, whitespace, emoji; 24,864 forced
 * cuts), the pieces counted fewer tokens than the whole in 5 % of the runs, never more than one fewer per cut,
 * and 0.16 tokens more per cut on average. Exact for pieces cut at safe places, which is all of ordinary text.
 */
export function countPiece(piece: string, encoding: EncodingName, forced: boolean): number {
  if (piece.length === 0) return 0;
  return load(encoding).countTokens(piece, PLAIN_TEXT) + (forced ? 1 : 0);
}

/** `count` with the choice's margin applied (rounded up); unchanged when the choice is exact. */
export function applyMargin(count: number, choice: EncodingChoice): number {
  return choice.margin === 1 ? count : Math.ceil(count * choice.margin);
}

/**
 * Tokens in a piece of text for `model`: exact for OpenAI models, an over-estimate for the others. Also the
 * completion count of generated text (OpenAI's completion_tokens for plain text is its encoded length; hidden
 * reasoning tokens are not in the text and cannot be counted from it).
 */
export function countTextTokens(text: string, model: string): number {
  const choice = encodingFor(model);
  return applyMargin(countEncodedTokens(text, choice.encoding), choice);
}
