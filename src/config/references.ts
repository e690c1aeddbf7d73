/**
 * Checks that span sections: targets name existing providers, fallbacks name other existing models.
 * They read the raw (interpolated) tree defensively instead of the schema's output, so that a config with
 * both a typo'd key and a dangling reference reports both at once rather than one per run.
 */
import type { ConfigIssue } from './errors.js';
import { isPlainObject } from './interpolate.js';

// Provider names form deployment ids ("openai-east/gpt-4o") shown in headers and logs, hence no "/" or spaces.
const PROVIDER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function checkReferences(raw: unknown): ConfigIssue[] {
  if (!isPlainObject(raw)) return [];
  const providers = isPlainObject(raw.providers) ? Object.keys(raw.providers) : [];
  const models = isPlainObject(raw.models) ? raw.models : {};
  return [
    ...checkProviderNames(providers),
    ...Object.entries(models).flatMap(([name, model]) =>
      isPlainObject(model)
        ? [
            ...checkTargets(name, model.targets, providers),
            ...FALLBACK_LISTS.flatMap((list) => checkFallbacks(name, list, model[list], Object.keys(models))),
          ]
        : [],
    ),
  ];
}

function checkProviderNames(names: readonly string[]): ConfigIssue[] {
  return names
    .filter((name) => !PROVIDER_NAME.test(name))
    .map((name) => ({
      path: ['providers', name],
      message: 'invalid provider name (use letters, digits, ".", "_" and "-", starting with a letter or digit)',
    }));
}

function checkTargets(model: string, targets: unknown, providers: readonly string[]): ConfigIssue[] {
  // With no providers at all the schema already says so; listing every target as unknown would be noise.
  if (!Array.isArray(targets) || providers.length === 0) return [];
  return targets.flatMap((target, i): ConfigIssue[] => {
    if (!isPlainObject(target) || typeof target.provider !== 'string' || target.provider === '') return [];
    if (providers.includes(target.provider)) return [];
    return [
      {
        path: ['models', model, 'targets', i, 'provider'],
        message: `unknown provider ${JSON.stringify(target.provider)} (known: ${providers.join(', ')})`,
      },
    ];
  });
}

const FALLBACK_LISTS = ['fallbacks', 'context_window_fallbacks', 'content_policy_fallbacks'] as const;

function checkFallbacks(model: string, list: string, fallbacks: unknown, models: readonly string[]): ConfigIssue[] {
  if (!Array.isArray(fallbacks)) return [];
  return fallbacks.flatMap((fallback, i): ConfigIssue[] => {
    if (typeof fallback !== 'string' || fallback === '') return [];
    const path = ['models', model, list, i];
    if (fallback === model) return [{ path, message: `a model cannot fall back to itself ("${model}")` }];
    if (!models.includes(fallback)) {
      return [{ path, message: `unknown model ${JSON.stringify(fallback)} (known: ${models.join(', ')})` }];
    }
    if (fallbacks.indexOf(fallback) < i) return [{ path, message: `"${fallback}" is listed twice` }];
    return [];
  });
}
