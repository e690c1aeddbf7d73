/**
 * The three ways in: a file, YAML text, or an object (library users). All end in `resolveConfig`, which
 * interpolates, validates, cross-checks, and only then builds one deep-frozen `Config`, so no module ever
 * sees a half-valid config or can change it under another's feet.
 */
import { readFileSync } from 'node:fs';
import { type ConfigIssue, type ConfigPath, ConfigError, formatIssue, isWithin } from './errors.js';
import { type Env, interpolateEnv, isPlainObject } from './interpolate.js';
import { awsCredentials, bedrockBaseUrl, checkProviderNeeds } from './provider-needs.js';
import { checkReferences } from './references.js';
import { ConfigSchema, PROVIDER_TYPES, type ParsedConfig, schemaIssues } from './schema.js';
import type { Config, ModelConfig, ProviderConfig, RetryPolicy, Timeouts } from './types.js';
import { parseYaml } from './yaml.js';

/** Validate an already-parsed config (e.g. an object literal), resolving `${VAR}` references from `env`. */
export function resolveConfig(raw: unknown, env: Env = process.env): Config {
  return resolve(raw, env, undefined);
}

/** Parse YAML text; `sourceName` (usually the file name) appears in the error headline. */
export function parseConfig(yamlText: string, env: Env = process.env, sourceName?: string): Config {
  const parsed = parseYaml(yamlText);
  if (parsed.errors.length > 0) throw new ConfigError(parsed.errors, sourceName);
  return resolve(parsed.value, env, sourceName);
}

export function loadConfigFile(path: string, env: Env = process.env): Config {
  return parseConfig(readConfigText(path), env, path);
}

const READ_FAILURES: Record<string, string> = {
  ENOENT: 'file not found',
  EISDIR: 'it is a directory, expected a YAML file',
  EACCES: 'permission denied',
};

function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    throw new ConfigError([`cannot read config file: ${(code && READ_FAILURES[code]) || message}`], path);
  }
}

function resolve(raw: unknown, env: Env, source: string | undefined): Config {
  // An empty YAML file parses to null; treat it as {} so the user hears what to add, not "got null".
  const interpolated = interpolateEnv(raw ?? {}, env);
  const result = ConfigSchema.safeParse(interpolated.value);
  const later = [
    ...(result.success ? [] : schemaIssues(result.error)),
    ...checkReferences(interpolated.value),
    ...checkProviderNeeds(interpolated.value, env),
  ];
  const issues = inDocumentOrder([...interpolated.issues, ...withoutKnockOn(later, interpolated.issues)], interpolated.value);
  if (issues.length > 0 || !result.success) throw new ConfigError(issues.map(formatIssue), source);
  return deepFreeze(buildConfig(result.data, env, interpolated.value));
}

/**
 * A failed reference leaves "" behind so checking can continue; whatever the schema then says about that
 * value ("expected a positive integer, got \"\"") is a consequence, not a second problem.
 */
function withoutKnockOn(issues: readonly ConfigIssue[], causes: readonly ConfigIssue[]): ConfigIssue[] {
  return issues.filter((issue) => !causes.some((cause) => isWithin(issue.path, cause.path)));
}

/**
 * Issues come from three passes (env, schema, references); sorting them by where they sit in the document
 * lets a user walk the list top to bottom alongside the file. A path that does not exist (a missing key)
 * sorts with its nearest existing parent.
 */
function inDocumentOrder(issues: readonly ConfigIssue[], tree: unknown): ConfigIssue[] {
  const position = new Map<string, number>();
  const visit = (node: unknown, path: ConfigPath): void => {
    position.set(JSON.stringify(path), position.size);
    if (typeof node === 'object' && node !== null) {
      for (const [key, child] of Object.entries(node)) visit(child, [...path, Array.isArray(node) ? Number(key) : key]);
    }
  };
  visit(tree, []);
  const rank = (path: ConfigPath): number => {
    for (let length = path.length; length > 0; length--) {
      const found = position.get(JSON.stringify(path.slice(0, length)));
      if (found !== undefined) return found;
    }
    return 0;
  };
  return issues
    .map((issue) => ({ issue, rank: rank(issue.path) }))
    .sort((a, b) => a.rank - b.rank)
    .map(({ issue }) => issue);
}

function buildConfig(parsed: ParsedConfig, env: Env, raw: unknown): Config {
  const providers = mapEntries(
    parsed.providers,
    (name, provider): ProviderConfig => ({
      name,
      type: provider.type,
      // `${KEY:-}` is how a config says "no key"; it arrives here as "".
      api_key: provider.api_key === '' ? undefined : provider.api_key,
      // checkProviderNeeds has made sure one of these exists.
      base_url: provider.base_url ?? PROVIDER_TYPES[provider.type].default_base_url ?? bedrockBaseUrl(provider.region ?? ''),
      proxy: provider.proxy,
      headers: { ...provider.headers },
      api_version: provider.api_version,
      region: provider.region,
      aws: provider.type === 'bedrock' ? awsCredentials(provider, env) : undefined,
      supports_prefill: provider.supports_prefill ?? PROVIDER_TYPES[provider.type].prefill,
      supports_prefill_set: provider.supports_prefill !== undefined,
      probe: provider.probe,
    }),
  );
  const models = mapEntries(
    parsed.models,
    (name, model): ModelConfig => ({
      name,
      targets: model.targets.map((t) => ({
        provider: t.provider,
        model: t.model,
        weight: t.weight,
        priority: t.priority,
        context_window: t.context_window,
        max_output_tokens: t.max_output_tokens,
        max_input_tokens: t.max_input_tokens,
        price: t.price && { input: t.price.input, output: t.price.output, cached_input: t.price.cached_input },
      })),
      strategy: model.strategy,
      fallbacks: [...model.fallbacks],
      context_window_fallbacks: [...model.context_window_fallbacks],
      content_policy_fallbacks: [...model.content_policy_fallbacks],
      timeouts: overlay<Timeouts>(parsed.timeouts, model.timeouts),
      retry: overlay<RetryPolicy>(parsed.retry, model.retry),
      hedge: model.hedge && { after_ms: model.hedge.after_ms, after_percentile: model.hedge.after_percentile },
      transforms: [...new Set(model.transforms)],
      max_request_bytes: model.max_request_bytes,
    }),
  );
  return {
    server: { ...parsed.server },
    timeouts: { ...parsed.timeouts },
    retry: { ...parsed.retry },
    health: { ...parsed.health },
    streaming: { ...parsed.streaming },
    logging: { ...parsed.logging, level_set: isPlainObject(raw) && isPlainObject(raw.logging) && raw.logging.level !== undefined },
    tracing: { ...parsed.tracing },
    providers,
    models,
  } satisfies Config;
}

/** Global settings with a model's own values on top; a key present but undefined does not erase the global. */
function overlay<T extends object>(base: T, overrides: Partial<T> | undefined): T {
  const merged = { ...base };
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  return merged;
}

function mapEntries<T, U>(record: Record<string, T>, map: (name: string, value: T) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([name, value]) => [name, map(name, value)]));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
