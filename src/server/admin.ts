/**
 * `GET /admin/deployments`: what the gateway knows of each configured deployment, as JSON for an operator. Read
 * from the engine's per-deployment state (routing/health.ts, routing/stats.ts); served, like `POST /admin/reload`,
 * only on a loopback listener (reload.ts). The fields are documented in docs/probes.md.
 */
import type { Config } from '../config/types.js';
import type { Deployments } from '../routing/deployments.js';
import { buildRoutes } from '../routing/routes.js';

const iso = (ms: number): string => new Date(ms).toISOString();
const round3 = (n: number | null): number | null => (n === null ? null : Math.round(n * 1000) / 1000);

/** One row per deployment of the config (in the order models name them), with the models that route to it. */
export function deploymentsReport(config: Config, deployments: Deployments, now: number): { deployments: Record<string, unknown>[] } {
  const models = new Map<string, { provider: string; model: string; models: string[] }>();
  for (const route of buildRoutes(config).values()) {
    for (const { deployment: d } of route.targets) {
      const row = models.get(d.id) ?? { provider: d.provider.name, model: d.model, models: [] };
      if (!row.models.includes(route.model.name)) row.models.push(route.model.name);
      models.set(d.id, row);
    }
  }
  return { deployments: [...models].map(([id, row]) => deploymentRow(id, row, deployments, now)) };
}

function deploymentRow(id: string, row: { provider: string; model: string; models: string[] }, deployments: Deployments, now: number) {
  const health = deployments.health(id);
  const { state, available, until, reason } = health.availability(now);
  const { stats } = health;
  const last = stats.lastError;
  const probe = stats.probe;
  const latency = health.latency(now);
  const oneMinute = stats.errorRatio(now, 60);
  const fiveMinutes = stats.errorRatio(now, 300);
  return {
    id,
    ...row,
    state,
    available,
    reason: reason ?? null,
    cooldown_left_ms: until === undefined ? 0 : Math.max(0, until - now),
    inflight: health.inflight,
    latency_ms: stats.averages().latencyMs ?? null,
    ttft_ms: stats.averages().ttftMs ?? null,
    balance_latency_ms: latency === undefined ? null : Math.round(latency),
    error_ratio: { '1m': round3(oneMinute.ratio), '5m': round3(fiveMinutes.ratio) },
    attempts: { '1m': oneMinute.attempts, '5m': fiveMinutes.attempts },
    last_error: last
      ? { kind: last.kind, status: last.status ?? null, at: iso(last.at), upstream_request_id: last.upstreamRequestId ?? null }
      : null,
    quota: stats.quota ? { ...stats.quota.remaining, at: iso(stats.quota.at) } : null,
    probe: probe
      ? { ok: probe.ok, at: iso(probe.at), ms: probe.ms, error: probe.error ? { ...probe.error, status: probe.error.status ?? null } : null }
      : null,
  };
}
