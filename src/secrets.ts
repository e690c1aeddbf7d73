import type { Config, ProviderConfig } from './config/types.js';

/**
 * The configured secrets — provider keys, AWS credentials, secret-looking header values, a proxy's password — and
 * how to keep them out of everything the gateway shows or logs. Upstream text is untrusted: an upstream may echo
 * the key it was sent in any field of an error, whole or cut ("Incorrect API key provided: sk-abc…xyz"). Two scrubs:
 *
 * - `scrubUntrusted`, for upstream error fields and log lines: every exact secret, every run of `FRAGMENT` or more
 *   consecutive characters of one, and anything shaped like an API key becomes `[redacted]`. Linear in the text:
 *   each secret's `FRAGMENT`-grams are hashed once, and the text is scanned with a rolling hash.
 * - `scrubExact`, for success bodies and stream chunks: exact secrets only, looked for with an `includes` of a
 *   rare piece of each first, so a chunk without a secret (every chunk, in practice) costs ~15-20 ns a secret.
 *
 * Base: imports config types only, so every room may use it. Wrapping a stream decoder:
 * pipeline/scrubbing-decoder.ts.
 */

export const REDACTED = '[redacted]';
/** Consecutive characters of a secret that make a leak: long enough not to match ordinary words by chance. */
export const FRAGMENT = 8;
/** Shorter configured values are not scrubbed: replacing them would mangle ordinary text and hide nothing. */
const MIN_SECRET = 6;

/** Keys of the usual providers even when not configured here: OpenAI/Anthropic-style `sk-…`, Google's `AIza…`. */
const KEY_SHAPED = /\b(?:sk|pk|rk)-[A-Za-z0-9_*.-]{8,}|AIza[0-9A-Za-z_-]{30,}/g;

const BASE = 0x01000193;
/** BASE^(FRAGMENT-1): takes the leaving character out of the rolling hash. */
const LEAVING = pow(BASE, FRAGMENT - 1);
/** 2^16 bits: most windows of a text are rejected on one bit, before any map lookup. */
const FILTER_BITS = 16;
const FILTER_MASK = (1 << FILTER_BITS) - 1;

function pow(base: number, exp: number): number {
  let p = 1;
  for (let i = 0; i < exp; i++) p = Math.imul(p, base);
  return p;
}

function hashAt(text: string, at: number): number {
  let h = 0;
  for (let i = at; i < at + FRAGMENT; i++) h = (Math.imul(h, BASE) + text.charCodeAt(i)) | 0;
  return h;
}

export class Secrets {
  static readonly none = new Secrets([]);

  /** Longest first, so that a secret containing another is replaced whole. */
  private readonly exact: readonly string[];
  /** Per secret (same order), a piece of it that starts with a rare character: see `anchorOf`. */
  private readonly anchors: readonly string[];
  /** Secrets too short to have fragments: matched whole only. */
  private readonly short: readonly string[];
  /** Every FRAGMENT-gram of every secret, by rolling hash. */
  private readonly grams = new Map<number, string[]>();
  private readonly filter: Uint32Array;

  constructor(values: Iterable<string | undefined>) {
    const unique = new Set<string>();
    for (const v of values) if (v !== undefined && v.length >= MIN_SECRET) unique.add(v);
    this.exact = [...unique].sort((a, b) => b.length - a.length);
    this.anchors = this.exact.map(anchorOf);
    this.short = this.exact.filter((s) => s.length < FRAGMENT);
    this.filter = new Uint32Array(this.exact.length > this.short.length ? (1 << FILTER_BITS) / 32 : 0);
    for (const secret of this.exact) {
      for (let i = 0; i + FRAGMENT <= secret.length; i++) {
        const gram = secret.slice(i, i + FRAGMENT);
        const h = hashAt(gram, 0);
        const bucket = this.grams.get(h);
        if (!bucket) this.grams.set(h, [gram]);
        else if (!bucket.includes(gram)) bucket.push(gram);
        this.filter[(h & FILTER_MASK) >>> 5]! |= 1 << (h & 31);
      }
    }
  }

  get size(): number {
    return this.exact.length;
  }

  /** Upstream error text and log lines: exact secrets, their fragments, and key-shaped tokens. */
  scrubUntrusted(text: string): string {
    let out = this.grams.size === 0 ? text : this.fragments(text);
    for (const s of this.short) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return out.replace(KEY_SHAPED, REDACTED);
  }

  /** Success bodies and stream chunks: exact secrets only. */
  scrubExact(text: string): string {
    let out = text;
    for (let i = 0; i < this.exact.length; i++) {
      if (!out.includes(this.anchors[i]!)) continue;
      const s = this.exact[i]!;
      if (out.includes(s)) out = out.split(s).join(REDACTED);
    }
    return out;
  }

  /**
   * An upstream's code, type or param, kept only when it is a plain identifier (`context_length_exceeded`,
   * `ThrottlingException`, `messages[0].content`) holding nothing to scrub and nothing that looks random.
   */
  identifier(value: unknown): string | undefined {
    if (typeof value !== 'string' || !IDENTIFIER.test(value) || looksRandom(value)) return undefined;
    return this.scrubUntrusted(value) === value ? value : undefined;
  }

  /** An upstream request id (a header): any short printable token without a secret in it. */
  requestId(value: string | undefined): string | undefined {
    if (value === undefined || !REQUEST_ID.test(value)) return undefined;
    return this.scrubUntrusted(value) === value ? value : undefined;
  }

  /** Every window of FRAGMENT characters that is a fragment of a secret, merged into runs, replaced. */
  private fragments(text: string): string {
    const n = text.length;
    if (n < FRAGMENT) return text;
    let out = '';
    let copied = 0; // text before this is in `out`
    let runStart = -1;
    let runEnd = -1; // the current run of matched windows: [runStart, runEnd)
    let h = hashAt(text, 0);
    for (let i = 0; ; i++) {
      if ((this.filter[(h & FILTER_MASK) >>> 5]! & (1 << (h & 31))) !== 0 && this.matchesAt(text, i, h)) {
        if (i > runEnd) {
          // Not touching the current run: that run is complete.
          if (runEnd >= 0) {
            out += text.slice(copied, runStart) + REDACTED;
            copied = runEnd;
          }
          runStart = i;
        }
        runEnd = i + FRAGMENT;
      }
      if (i + FRAGMENT >= n) break;
      h = (Math.imul(h - Math.imul(text.charCodeAt(i), LEAVING), BASE) + text.charCodeAt(i + FRAGMENT)) | 0;
    }
    if (runEnd < 0) return text;
    return out + text.slice(copied, runStart) + REDACTED + text.slice(runEnd);
  }

  private matchesAt(text: string, at: number, h: number): boolean {
    const bucket = this.grams.get(h);
    if (bucket) for (const gram of bucket) if (text.startsWith(gram, at)) return true;
    return false;
  }
}

/**
 * The piece of a secret to look for first: FRAGMENT characters from its rarest character on. V8 looks for a
 * pattern by its first character (memchr, then a compare at each hit), so a secret that starts with `sk-` is
 * compared at every `s` of a chunk (`"system_fingerprint"`, …). Measured on 250-character chunks, five secrets
 * looked for whole cost ~160 ns a chunk, by these pieces ~75.
 */
function anchorOf(secret: string): string {
  let best = 0;
  let bestRank = Number.POSITIVE_INFINITY;
  for (let i = 0; i + FRAGMENT <= secret.length; i++) {
    const rank = rarity(secret.charCodeAt(i));
    if (rank < bestRank) {
      best = i;
      bestRank = rank;
      if (rank === 0) break;
    }
  }
  return secret.slice(best, best + FRAGMENT);
}

/** How common a character is in JSON answers (lower is rarer): capitals but the usual ones, then digits, … */
function rarity(c: number): number {
  if (c >= 65 && c <= 90) return 'AEIOTSCN'.includes(String.fromCharCode(c)) ? 1 : 0;
  if (c === 43 || c === 47 || c === 61) return 1; // + / =
  if (c >= 48 && c <= 57) return 2;
  if (c >= 97 && c <= 122) return 'jqxzkvwyb'.includes(String.fromCharCode(c)) ? 2 : 3;
  return 4;
}

/** Codes like `context_length_exceeded`, types like `ThrottlingException`, params like `tools[0].function.name`. */
const IDENTIFIER = /^[A-Za-z0-9_.[\]-]{1,64}$/;
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** A long run of letters and digits mixed is a token, not a word: an unconfigured key, say. */
function looksRandom(value: string): boolean {
  for (const part of value.split(/[_.[\]-]/)) {
    if (part.length >= 12 && /\d/.test(part) && /[A-Za-z]/.test(part)) return true;
  }
  return false;
}

/** Header names whose values are credentials (Authorization, X-Api-Key, Cookie, …). */
const SECRET_HEADER = /auth|key|token|secret|cookie|password|credential|signature/i;

/** Every secret value in one provider's config: what an upstream of that provider could echo. */
export function providerSecretValues(p: ProviderConfig): string[] {
  const values = [p.api_key, p.aws?.access_key_id, p.aws?.secret_access_key, p.aws?.session_token];
  for (const [name, value] of Object.entries(p.headers)) {
    if (!SECRET_HEADER.test(name)) continue;
    values.push(value);
    // `Bearer <token>`: the token alone may be echoed too.
    const credential = /^\S+\s+(\S{6,})$/.exec(value.trim())?.[1];
    if (credential) values.push(credential);
  }
  for (const url of [p.proxy, p.base_url]) values.push(...urlCredentials(url));
  return values.filter((v): v is string => v !== undefined && v.length >= MIN_SECRET);
}

function urlCredentials(url: string | undefined): string[] {
  if (!url?.includes('@')) return [];
  try {
    const { password } = new URL(url);
    return password ? [password, decodeURIComponent(password)] : [];
  } catch {
    return [];
  }
}

const byProvider = new WeakMap<ProviderConfig, Secrets>();
const byConfig = new WeakMap<Config, Secrets>();

/** One provider's secrets (cached per config object): what its upstream errors and answers are scrubbed of. */
export function secretsOf(p: ProviderConfig): Secrets {
  let s = byProvider.get(p);
  if (!s) {
    s = new Secrets(providerSecretValues(p));
    byProvider.set(p, s);
  }
  return s;
}

/** Every provider's secrets: what the logs are scrubbed of. */
export function configSecrets(config: Config): Secrets {
  let s = byConfig.get(config);
  if (!s) {
    s = new Secrets(Object.values(config.providers).flatMap(providerSecretValues));
    byConfig.set(config, s);
  }
  return s;
}
