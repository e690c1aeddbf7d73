/**
 * What the mock says, independent of any wire dialect: the deterministic answer text, how it is split into
 * stream deltas, token estimates, tool-call placeholder arguments and embedding vectors. Pure.
 */
import { mulberry32 } from './faults.js';

const ADJECTIVES = ['patient', 'quiet', 'steady', 'silver', 'gentle', 'bright', 'careful', 'distant', 'calm', 'swift'];
const NOUNS = ['harbor', 'river', 'engine', 'signal', 'lantern', 'bridge', 'garden', 'compass', 'meadow', 'beacon'];
const VERBS = ['carries', 'guides', 'follows', 'shelters', 'answers', 'gathers', 'lifts', 'watches'];
const PLURALS = ['lanterns', 'travelers', 'messages', 'sailors', 'letters', 'echoes', 'sparrows', 'songs'];
const PREPOSITIONS = ['through', 'across', 'beyond', 'beneath', 'along', 'past'];
const ENDINGS = ['toward morning light', 'until the dawn', 'into the evening', 'without any hurry'];

/** A 13-word sentence chosen by the seed: the same seed always gives the same sentence. */
export function defaultReply(seed: number): string {
  const random = mulberry32(seed ^ 0x5eed1e55);
  const pick = (words: string[]) => words[Math.floor(random() * words.length)];
  const words = [
    'The', pick(ADJECTIVES), pick(NOUNS), pick(VERBS), pick(ADJECTIVES), pick(PLURALS),
    pick(PREPOSITIONS), 'the', pick(ADJECTIVES), pick(NOUNS), pick(ENDINGS),
  ];
  return `${words.join(' ')}.`;
}

/**
 * One delta per word, each with its trailing whitespace (leading whitespace stays with the first word), so
 * the concatenation is exactly the text.
 */
export function splitWords(text: string): string[] {
  if (text === '') return [];
  return text.match(/\s*\S+\s*/g) ?? [text];
}

/**
 * The text of a message `content`: a string as is, or its text parts joined — OpenAI `{type:'text', text}`
 * parts, Anthropic text blocks, Bedrock `{text}` blocks; other parts and blocks (images, tool calls) add nothing.
 */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (!part || typeof part !== 'object') continue;
    const { type, text: piece } = part as { type?: unknown; text?: unknown };
    if ((type === undefined || type === 'text') && typeof piece === 'string') text += piece;
  }
  return text;
}

/**
 * What the mock answers after an assistant prefill: the rest of `reply` when `reply` starts with `prefill` (so
 * `prefill + answer === reply` exactly, even for a prefill cut mid-word or ending in a space), else all of
 * `reply` (a model ignores a prefill it does not recognise). No prefill (null or '') answers `reply`.
 */
export function continueReply(reply: string, prefill: string | null | undefined): string {
  if (!prefill) return reply;
  return reply.startsWith(prefill) ? reply.slice(prefill.length) : reply;
}

/** Splits `text` into at least `minPieces` pieces of at most `maxLength` characters (fewer only if too short). */
export function splitPieces(text: string, minPieces = 2, maxLength = 8): string[] {
  const pieces = Math.min(text.length, Math.max(minPieces, Math.ceil(text.length / maxLength)));
  if (pieces <= 1) return [text];
  const size = Math.ceil(text.length / pieces);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** The rough "4 characters per token" rule — good enough for a fake usage block. */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

/** Characters of a message `content` in either form: a string, or an array of `{type:'text', text}` parts. */
export function contentChars(content: unknown): number {
  if (typeof content === 'string') return content.length;
  if (!Array.isArray(content)) return 0;
  let chars = 0;
  for (const part of content) {
    if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') {
      chars += (part as { text: string }).text.length;
    }
  }
  return chars;
}

/** A value for a JSON-schema property: string→"mock" (or the first enum value), number/integer→1, boolean→true. */
function placeholderFor(schema: unknown): unknown {
  if (!schema || typeof schema !== 'object') return null;
  const s = schema as { type?: unknown; enum?: unknown };
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'string':
      return 'mock';
    case 'number':
    case 'integer':
      return 1;
    case 'boolean':
      return true;
    default:
      return null;
  }
}

/** Placeholder arguments for a function's JSON-schema `parameters`: one value per required property. */
export function placeholderArguments(parameters: unknown): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  if (!parameters || typeof parameters !== 'object') return args;
  const { required, properties } = parameters as { required?: unknown; properties?: unknown };
  if (!Array.isArray(required)) return args;
  const props = properties && typeof properties === 'object' ? (properties as Record<string, unknown>) : {};
  for (const name of required) {
    if (typeof name === 'string') args[name] = placeholderFor(props[name]);
  }
  return args;
}

/** FNV-1a over the UTF-16 code units; a stable seed for anything stringifiable. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A unit-length vector derived from the input alone (same input → same vector, any seed). Components are
 * float32-exact so the JSON and base64 encodings carry the same numbers.
 */
export function embeddingVector(input: unknown, dimensions: number): number[] {
  const random = mulberry32(fnv1a(typeof input === 'string' ? input : JSON.stringify(input)));
  const raw = Array.from({ length: dimensions }, () => random() * 2 - 1);
  let sumSquares = 0;
  for (const x of raw) sumSquares += x * x;
  const norm = Math.sqrt(sumSquares) || 1;
  return raw.map((x) => Math.fround(x / norm));
}

/** Little-endian float32 bytes in base64: OpenAI's `encoding_format: "base64"`, which the SDK asks for by default. */
export function float32Base64(vector: number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i], i * 4);
  return bytes.toString('base64');
}
