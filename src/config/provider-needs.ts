/**
 * What some provider types need beyond the common keys: Azure a base_url, Bedrock a region (or base_url)
 * and AWS credentials, from the config or the standard AWS_* variables. Read from the raw tree, like the
 * reference checks, so every problem is reported in one pass.
 */
import type { ConfigIssue } from './errors.js';
import { type Env, isPlainObject } from './interpolate.js';
import type { AwsCredentials } from './types.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export function bedrockBaseUrl(region: string): string {
  return `https://bedrock-runtime.${region}.amazonaws.com`;
}

export function awsCredentials(provider: Record<string, unknown>, env: Env): AwsCredentials | undefined {
  const id = str(provider.access_key_id) ?? str(env.AWS_ACCESS_KEY_ID);
  const secret = str(provider.secret_access_key) ?? str(env.AWS_SECRET_ACCESS_KEY);
  if (!id || !secret) return undefined;
  const fromConfig = str(provider.access_key_id) !== undefined;
  return {
    access_key_id: id,
    secret_access_key: secret,
    session_token: fromConfig ? str(provider.session_token) : (str(provider.session_token) ?? str(env.AWS_SESSION_TOKEN)),
  };
}

const AWS_KEYS = ['region', 'access_key_id', 'secret_access_key', 'session_token'];

export function checkProviderNeeds(raw: unknown, env: Env): ConfigIssue[] {
  if (!isPlainObject(raw) || !isPlainObject(raw.providers)) return [];
  const issues: ConfigIssue[] = [];
  for (const [name, p] of Object.entries(raw.providers)) {
    if (!isPlainObject(p)) continue;
    const path = ['providers', name];
    if (p.type === 'azure' && !str(p.base_url)) {
      issues.push({ path: [...path, 'base_url'], message: 'required for azure (e.g. https://my-resource.openai.azure.com)' });
    }
    if (p.type === 'bedrock') {
      if (!str(p.region) && !str(p.base_url)) {
        issues.push({ path: [...path, 'region'], message: 'required for bedrock (e.g. us-east-1), unless base_url is set' });
      }
      if (!awsCredentials(p, env)) {
        issues.push({
          path: [...path, 'access_key_id'],
          message: 'bedrock needs AWS credentials: access_key_id and secret_access_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment',
        });
      }
    } else {
      for (const key of AWS_KEYS) {
        if (p[key] !== undefined) issues.push({ path: [...path, key], message: `only for type bedrock (this provider is ${String(p.type)})` });
      }
    }
    if (p.api_version !== undefined && p.type !== 'azure' && p.type !== 'anthropic') {
      issues.push({ path: [...path, 'api_version'], message: `only for types azure and anthropic (this provider is ${String(p.type)})` });
    }
  }
  return issues;
}
