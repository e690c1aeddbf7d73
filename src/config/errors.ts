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
