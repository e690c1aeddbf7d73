import type { Config } from '../config/types.js';
import { adapterFor } from '../providers/index.js';
import type { RoutedTarget } from './routes.js';
import { RetryBudget } from '../resilience/index.js';
import { type DeploymentHealth, HealthRegistry, type TransitionListener } from './health.js';

/**
 * Whether a deployment can continue a partial answer (prefill), which a resumed stream needs: the provider's
 * `supports_prefill` when the config sets it; else the adapter's word for the model, where its models differ
 * (Bedrock: the catalog's, Claude yes, the others no); else the provider type's default.
 */
export function canPrefill(t: RoutedTarget): boolean {
  const p = t.deployment.provider;
  if (p.supports_prefill_set) return p.supports_prefill;
  return adapterFor(p.type).canPrefill?.(t.deployment) ?? p.supports_prefill;
}

/**
 * Retries (failovers) allowed per budget window whatever the traffic, so a quiet deployment can still be retried and
 * a quiet model can still fail over.
 */
const BUDGET_FLOOR = 10;
const BUDGET_WINDOW_S = 10;

/**
 * Per-deployment state shared by every request: health (breaker, cooldowns, in-flight, latency) and the retry
 * budget; and per model, the failover budget. In memory for now; this is the seam where shared state (Redis, for N
 * replicas) plugs in.
 */
export class Deployments {
  private readonly registry: HealthRegistry;
  private readonly budgets = new Map<string, RetryBudget>();
  private readonly failoverBudgets = new Map<string, RetryBudget>();

  constructor(private readonly config: Config) {
    this.registry = new HealthRegistry(() => config.health);
  }

  health(id: string): DeploymentHealth {
    return this.registry.get(id);
  }

  budget(id: string): RetryBudget {
    return budgetIn(this.budgets, id, this.config.retry.budget_ratio);
  }

  /**
   * The failover budget of a model: its requests' first attempts earn failovers (`retry.failover_budget_ratio` of
   * them, plus the floor), and each attempt a request makes at another deployment of the model after one failed
   * spends one. A retry budget bounds the extra load on one deployment; this one bounds it across the model's.
   */
  failovers(model: string): RetryBudget {
    return budgetIn(this.failoverBudgets, model, this.config.retry.failover_budget_ratio);
  }

  /**
   * The state for `next`, a reloaded config: each deployment in `unchanged` (its provider config is the same, see
   * config/diff.ts) keeps its breaker, cooldowns, disabled key, latency and retry budget, shared with the requests
   * still running on this state; the rest start fresh, so a deployment taken out for a rejected key is back once
   * the key changes. A budget under a new `retry.budget_ratio` starts fresh too (its window is seconds long). A
   * model still configured keeps its failover budget unless `retry.failover_budget_ratio` changed.
   */
  carryTo(next: Config, unchanged: Iterable<string>): Deployments {
    const carried = new Deployments(next);
    const sameRatio = next.retry.budget_ratio === this.config.retry.budget_ratio;
    for (const id of unchanged) {
      const health = this.registry.find(id);
      if (health) carried.registry.adopt(health);
      const budget = this.budgets.get(id);
      if (budget && sameRatio) carried.budgets.set(id, budget);
    }
    if (next.retry.failover_budget_ratio === this.config.retry.failover_budget_ratio) {
      for (const [model, budget] of this.failoverBudgets) if (next.models[model]) carried.failoverBudgets.set(model, budget);
    }
    // A deployment out of rotation that is still configured and starts fresh (its provider changed) is back in it.
    const ids = new Set(Object.values(next.models).flatMap((m) => m.targets.map((t) => `${t.provider}/${t.model}`)));
    for (const h of this.registry.all()) {
      if (h.disabled && ids.has(h.id) && !carried.registry.find(h.id)) h.listener?.({ deployment: h.id, to: 'enabled', reason: 'its provider config changed' });
    }
    return carried;
  }

  /** Breaker and rotation transitions of every deployment go to `listener` (the assembly's log lines). */
  listen(listener: TransitionListener): void {
    this.registry.listen(listener);
  }

  snapshot(now: number) {
    return this.registry.snapshot(now);
  }
}

/** The budget kept under `key`, made on first use with this ratio, the floor and the window. */
function budgetIn(budgets: Map<string, RetryBudget>, key: string, ratio: number): RetryBudget {
  let budget = budgets.get(key);
  if (!budget) {
    budget = new RetryBudget({ ratio, min_per_window: BUDGET_FLOOR, window_s: BUDGET_WINDOW_S });
    budgets.set(key, budget);
  }
  return budget;
}
