/**
 * What a reloaded config changes, compared with the running one. Pure: the reload uses it to decide which
 * deployments keep their state, and reports it to the operator (the log line and `POST /admin/reload`'s answer).
 */
import { isDeepStrictEqual } from 'node:util';
import type { Config, ProviderConfig } from './types.js';

export interface ConfigChanges {
  models: { added: string[]; removed: string[]; changed: string[] };
  /**
   * By deployment id (`provider/model`). `changed`: its provider's config differs (key, base_url, headers, proxy,
   * AWS credentials, type, version, region, prefill), so it starts with fresh health; `unchanged` keep theirs.
   */
  deployments: { added: string[]; removed: string[]; changed: string[]; unchanged: string[] };
  /** Other top-level sections whose values differ: timeouts, retry, health, streaming, logging, tracing. */
  settings: string[];
  /** `server.*` keys that differ: the listener was made with them, so they wait for a restart. */
  restart: string[];
}

/** Sections compared whole; `server` is reported key by key, providers and models through their parts. */
const SETTINGS = ['timeouts', 'retry', 'health', 'streaming', 'logging', 'tracing'] as const;

export function configChanges(running: Config, next: Config): ConfigChanges {
  const was = deploymentProviders(running);
  const now = deploymentProviders(next);
  const deployments: ConfigChanges['deployments'] = { added: [], removed: [], changed: [], unchanged: [] };
  for (const [id, provider] of now) {
    const before = was.get(id);
    if (!before) deployments.added.push(id);
    else deployments[isDeepStrictEqual(before, provider) ? 'unchanged' : 'changed'].push(id);
  }
  for (const id of was.keys()) if (!now.has(id)) deployments.removed.push(id);
  return {
    models: keyedChanges(running.models, next.models),
    deployments,
    settings: SETTINGS.filter((key) => !isDeepStrictEqual(running[key], next[key])),
    restart: Object.keys({ ...running.server, ...next.server })
      .filter((key) => !isDeepStrictEqual(running.server[key as keyof Config['server']], next.server[key as keyof Config['server']]))
      .map((key) => `server.${key}`),
  };
}

/** True when the reload changes nothing at all. */
export function noChanges(c: ConfigChanges): boolean {
  const { models: m, deployments: d } = c;
  return [m.added, m.removed, m.changed, d.added, d.removed, d.changed, c.settings, c.restart].every((list) => list.length === 0);
}

/** Each deployment id the config routes to, with its provider's config (ids as routing/routes.ts makes them). */
function deploymentProviders(config: Config): Map<string, ProviderConfig> {
  const byId = new Map<string, ProviderConfig>();
  for (const model of Object.values(config.models)) {
    for (const target of model.targets) {
      const provider = config.providers[target.provider];
      if (provider) byId.set(`${provider.name}/${target.model}`, provider);
    }
  }
  return byId;
}

function keyedChanges<T>(before: Readonly<Record<string, T>>, after: Readonly<Record<string, T>>): ConfigChanges['models'] {
  const has = (r: Readonly<Record<string, T>>, k: string) => Object.hasOwn(r, k);
  return {
    added: Object.keys(after).filter((k) => !has(before, k)),
    removed: Object.keys(before).filter((k) => !has(after, k)),
    changed: Object.keys(after).filter((k) => has(before, k) && !isDeepStrictEqual(before[k], after[k])),
  };
}
