/**
 * `${VAR}` substitution in config values. It runs on the parsed tree, never on YAML text, so whatever a
 * variable contains (newlines, `key: x`, quotes) stays inside the one string it was written in.
 *
 *   ${NAME}            the variable's value; unset or empty is an error
 *   ${NAME:-default}   the default when the variable is unset or empty (as in sh)
 *   $${                a literal "${"
 *
 * Empty counts as unset because an exported-but-empty OPENAI_API_KEY is almost always a mistake, and
 * `${NAME:-}` remains the way to say "optional".
 */
import type { ConfigIssue, ConfigPath } from './errors.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface Interpolated<T> {
  value: T;
  /** One issue per failed reference; the failed reference is replaced by "" so checking can go on. */
  issues: ConfigIssue[];
}

// `$${` first, so an escaped reference is never resolved; an unclosed `${` is matched last to report it.
const REFERENCE = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const BODY = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/** Resolve every reference in one string; `errors` are messages without a path. */
export function interpolateString(text: string, env: Env): { value: string; errors: string[] } {
  const errors: string[] = [];
  const value = text.replace(REFERENCE, (match: string, body: string | undefined) => {
    if (match === '$${') return '${';
    if (body === undefined) {
      errors.push('unclosed "${" (write "$${" for a literal "${")');
      return '';
    }
    const resolved = resolveReference(body, env);
    if (resolved.error !== undefined) errors.push(resolved.error);
    return resolved.value;
  });
  return { value, errors };
}

function resolveReference(body: string, env: Env): { value: string; error?: string } {
  const parsed = BODY.exec(body);
  if (parsed === null) {
    return { value: '', error: `invalid reference "\${${body}}" (expected \${NAME} or \${NAME:-default})` };
  }
  const name = parsed[1];
  const fallback: string | undefined = parsed[2]; // undefined when there is no ":-"
  if (fallback?.includes('${')) {
    return { value: '', error: `nested reference in the default of \${${name}} is not supported` };
  }
  const current = env[name];
  if (current !== undefined && current !== '') return { value: current };
  if (fallback !== undefined) return { value: fallback };
  const state = current === undefined ? 'is not set' : 'is set but empty';
  return { value: '', error: `environment variable ${name} ${state} (set it, or give a default: \${${name}:-…})` };
}

/**
 * Resolve references in every string of a parsed config (keys are left alone). Returns a new tree; the
 * input is not modified, so a caller's object can be resolved more than once.
 */
export function interpolateEnv(value: unknown, env: Env, path: ConfigPath = []): Interpolated<unknown> {
  const issues: ConfigIssue[] = [];
  const walk = (node: unknown, at: ConfigPath): unknown => {
    if (typeof node === 'string') {
      const { value: text, errors } = interpolateString(node, env);
      for (const message of errors) issues.push({ path: at, message });
      return text;
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...at, i]));
    if (isPlainObject(node)) {
      return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, walk(item, [...at, key])]));
    }
    return node;
  };
  return { value: walk(value, path), issues };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
