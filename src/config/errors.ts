/**
 * One error type for every way a config can be wrong. Problems are collected, not thrown one at a time,
 * so a user fixing a config sees everything that is wrong in a single `lifeline check`.
 */

/** Where in the config a problem is: keys and array indexes, outermost first. */
export type ConfigPath = readonly PropertyKey[];

/** A problem found while loading, before it is rendered into a line of text. */
export interface ConfigIssue {
  readonly path: ConfigPath;
  readonly message: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** One human-readable line per problem, e.g. `server.prot: unknown key (valid: host, port, …)`. */
  readonly issues: string[];
  /** The file (or other origin) the config came from, when known. */
  readonly source: string | undefined;

  constructor(issues: string[], source?: string) {
    super(headline(issues.length, source) + issues.map((issue) => `\n  ${issue}`).join(''));
    this.issues = issues;
    this.source = source;
  }
}

function headline(count: number, source: string | undefined): string {
  const where = source === undefined ? '' : ` in ${source}`;
  return `invalid config${where} (${count} ${count === 1 ? 'problem' : 'problems'}):`;
}

// Model names such as "gpt-4.1" contain dots, so those keys are quoted to keep the path unambiguous.
const PLAIN_KEY = /^[\w-]+$/;

/** `["models", "gpt-4.1", "targets", 0]` → `models["gpt-4.1"].targets[0]`. */
export function formatPath(path: ConfigPath): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (typeof segment === 'string' && PLAIN_KEY.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(String(segment))}]`;
  }
  return text;
}

export function formatIssue(issue: ConfigIssue): string {
  return `${issue.path.length === 0 ? 'config' : formatPath(issue.path)}: ${issue.message}`;
}

/** True when `path` is `prefix` or lies inside it. */
export function isWithin(path: ConfigPath, prefix: ConfigPath): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => segment === path[i]);
}

/** How a value is shown in an error: strings quoted, containers named rather than dumped. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}

/**
 * Edits between `a` and `b`: insertions, deletions, substitutions, and a swap of two neighbours counted as one
 * (optimal string alignment), since `prot` for `port` is one slip of the fingers, not two.
 */
export function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

/** Case and `-`/`_` differences are not typos worth counting: `baseURL`, `api-key`. */
const normalise = (key: string) => key.toLowerCase().replace(/-/g, '_');

/**
 * The candidate `key` was most likely meant to be, or undefined when none is close: at most one edit for a
 * short key, about a third of the letters for a longer one (`first_byte` → `first_byte_ms`). Ties go to the
 * first candidate, so the answer is stable.
 */
export function closestKey(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const a = normalise(key).replace(/_/g, '');
    const b = normalise(candidate).replace(/_/g, '');
    const distance = Math.min(editDistance(normalise(key), normalise(candidate)), editDistance(a, b));
    const longer = Math.max(key.length, candidate.length);
    const bound = longer <= 4 ? 1 : Math.max(2, Math.floor(longer / 3));
    if (distance <= bound && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
