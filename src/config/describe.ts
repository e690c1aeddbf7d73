/**
 * The human summary printed by `lifeline check`. It shows what the gateway will do with the config, and
 * it is safe to paste into an issue: API keys, header values and URL credentials are never printed.
 */
import type { Config, ModelConfig, ProviderConfig, RetryPolicy, Timeouts } from './types.js';

export function describeConfig(config: Config): string {
  return [
    // A check starts nothing; "listening on" here would send a user looking for a server that is not there.
    `lifeline serve would listen on ${listenAddress(config.server.host, config.server.port)}`,
    `defaults: ${describeTimeouts(config.timeouts)}; ${describeRetry(config.retry)}`,
    '',
    'providers:',
    ...Object.values(config.providers).map((provider) => `  ${describeProvider(provider)}`),
    '',
    'models:',
    ...Object.values(config.models).flatMap((model) => describeModel(model, config)),
  ].join('\n');
}

function listenAddress(host: string, port: number): string {
  const hostPart = host.includes(':') ? `[${host}]` : host; // IPv6 literal
  return port === 0 ? `http://${hostPart} (any free port)` : `http://${hostPart}:${port}`;
}

function describeProvider(provider: ProviderConfig): string {
  const parts = [`${provider.name} (${provider.type}) ${withoutCredentials(provider.base_url)}`];
  parts.push(provider.api_key === undefined ? 'key: none' : 'key: set');
  if (provider.proxy !== undefined) parts.push(`proxy: ${withoutCredentials(provider.proxy)}`);
  const headerNames = Object.keys(provider.headers);
  // Header values are often credentials too (organisation ids, gateway tokens), so only names are shown.
  if (headerNames.length > 0) parts.push(`headers: ${headerNames.join(', ')}`);
  return parts.join('; ');
}

function describeModel(model: ModelConfig, config: Config): string[] {
  const tiered = model.strategy === 'priority';
  const targets = model.targets.map(
    (t) => `${t.provider}/${t.model} (${tiered ? `priority ${t.priority}, ` : ''}weight ${t.weight})`,
  );
  const lines = [`  ${model.name} → ${targets.join(', ')}${model.targets.length > 1 ? ` [${model.strategy}]` : ''}`];
  if (model.fallbacks.length > 0) lines.push(`    fallbacks: ${model.fallbacks.join(', ')}`);
  if (model.context_window_fallbacks.length > 0) lines.push(`    context window fallbacks: ${model.context_window_fallbacks.join(', ')}`);
  if (model.content_policy_fallbacks.length > 0) lines.push(`    content policy fallbacks: ${model.content_policy_fallbacks.join(', ')}`);
  // Only overrides are shown; repeating the defaults under every model would hide the ones that differ.
  if (!sameValues(model.timeouts, config.timeouts)) lines.push(`    ${describeTimeouts(model.timeouts)}`);
  if (!sameValues(model.retry, config.retry)) lines.push(`    ${describeRetry(model.retry)}`);
  return lines;
}

function describeTimeouts(t: Timeouts): string {
  return `timeouts connect ${t.connect_ms} ms, first byte ${t.first_byte_ms} ms, idle ${t.idle_ms} ms, total ${t.total_ms} ms`;
}

function describeRetry(r: RetryPolicy): string {
  if (r.max_attempts === 1) return '1 attempt (no retries)';
  return `up to ${r.max_attempts} attempts, backoff ${r.base_delay_ms}..${r.max_delay_ms} ms`;
}

function sameValues<T extends object>(a: T, b: T): boolean {
  return Object.entries(a).every(([key, value]) => (b as Record<string, unknown>)[key] === value);
}

/** `http://user:pass@proxy:3128` → `http://***@proxy:3128`. */
function withoutCredentials(url: string): string {
  if (!URL.canParse(url)) return url;
  const parsed = new URL(url);
  if (parsed.username === '' && parsed.password === '') return url;
  parsed.username = '***';
  parsed.password = '';
  return parsed.toString().replace(/\/$/, url.endsWith('/') ? '/' : '');
}
