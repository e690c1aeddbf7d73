import type { GatewayError } from '../errors.js';
import { adapterFor } from '../providers/index.js';
import type { Deployment, Operation } from '../types.js';
import { type Candidate, pickCandidate } from '../routing/balance.js';
import type { Route, RoutedTarget } from '../routing/routes.js';
import type { Deployments } from '../routing/deployments.js';
import { unavailableError } from './unavailable.js';

/**
 * What to do next for one model: try a deployment this request has not tried (at once), try one again
 * (after a backoff), wait for the earliest to come back from a cooldown, or give up on the model.
 */
export type Choice =
  | { type: 'fresh' | 'retry'; target: RoutedTarget }
  | { type: 'wait'; until: number; deployment: Deployment; error: GatewayError }
  | { type: 'none'; error: GatewayError };

const WAITABLE = new Set(['rate_limited', 'cooling_down']);

export function supports(t: RoutedTarget, op: Operation): boolean {
  return !adapterFor(t.deployment.provider.type).unsupported?.includes(op);
}

export interface ChooseOptions {
  /**
   * May the request go to a deployment it has not tried (default true)? False once the model's failover budget has
   * refused it: then only a retry of a tried deployment, or a wait for one, is left.
   */
  failover?: boolean;
}

export function chooseTarget(
  op: Operation,
  route: Route,
  deployments: Deployments,
  excluded: ReadonlySet<string>,
  tried: ReadonlySet<string>,
  now: number,
  rand: () => number,
  options: ChooseOptions = {},
): Choice {
  const failover = options.failover ?? true;
  const available: RoutedTarget[] = [];
  let earliest: { until: number; deployment: Deployment } | undefined;
  for (const t of route.targets) {
    const id = t.deployment.id;
    if (excluded.has(id) || !supports(t, op) || (!failover && !tried.has(id))) continue;
    const a = deployments.health(id).availability(now);
    if (a.available) available.push(t);
    // Only an upstream's own hint is worth waiting for; an open breaker means "go elsewhere".
    else if (WAITABLE.has(a.state) && a.until !== undefined && (!earliest || a.until < earliest.until)) {
      earliest = { until: a.until, deployment: t.deployment };
    }
  }
  // A deployment that just answered 429 without a hint is not waited for, but the traffic that can go elsewhere does.
  const unthrottled = available.filter((t) => !deployments.health(t.deployment.id).throttled(now));
  const usable = unthrottled.length > 0 ? unthrottled : available;
  const fresh = usable.filter((t) => !tried.has(t.deployment.id));
  const pool = fresh.length > 0 ? fresh : usable;
  if (pool.length > 0) {
    const index = pickCandidate(route.model.strategy, pool.map((t) => candidate(t, deployments, now)), rand);
    return { type: fresh.length > 0 ? 'fresh' : 'retry', target: pool[index] ?? pool[0]! };
  }
  const error = unavailableError(route, deployments, now);
  if (earliest) return { type: 'wait', ...earliest, error };
  return { type: 'none', error };
}

function candidate(t: RoutedTarget, deployments: Deployments, now: number): Candidate {
  const health = deployments.health(t.deployment.id);
  return {
    id: t.deployment.id,
    weight: t.target.weight,
    priority: t.target.priority,
    inflight: health.inflight,
    latencyMs: health.latency(now),
  };
}
