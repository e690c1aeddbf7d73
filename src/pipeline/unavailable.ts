import { GatewayError } from '../errors.js';
import type { Availability } from '../routing/health.js';
import type { Route } from '../routing/routes.js';
import type { Deployments } from '../routing/deployments.js';

const STATE_TEXT: Record<Availability['state'], string> = {
  healthy: 'available',
  open: 'circuit open',
  half_open: 'probing after an outage',
  cooling_down: 'cooling down',
  rate_limited: 'rate-limited',
  disabled: 'disabled (the upstream rejected its credentials)',
};

/**
 * The answer when no deployment of a model can be tried right now: 503, or 429 when every one is
 * rate-limited, with Retry-After at the earliest moment one may recover and each deployment's state named.
 */
export function unavailableError(route: Route, deployments: Deployments, now: number): GatewayError {
  const states = route.targets.map((t) => ({ id: t.deployment.id, ...deployments.health(t.deployment.id).availability(now) }));
  const untils = states.map((s) => s.until).filter((u): u is number => u !== undefined);
  const earliest = untils.length > 0 ? Math.min(...untils) : undefined;
  const allRateLimited = states.length > 0 && states.every((s) => s.state === 'rate_limited');
  const parts = states.map((s) => {
    const when = s.until !== undefined ? ` (retry in ${Math.max(1, Math.ceil((s.until - now) / 1000))} s)` : '';
    return `${s.id} ${STATE_TEXT[s.state]}${when}`;
  });
  return new GatewayError(
    allRateLimited ? 'rate_limited' : 'unavailable',
    `No deployment of "${route.model.name}" is available: ${parts.join(', ')}.`,
    {
      code: allRateLimited ? 'all_deployments_rate_limited' : 'all_deployments_unavailable',
      retryable: false,
      ...(earliest !== undefined ? { retryAfterMs: Math.max(0, earliest - now) } : {}),
    },
  );
}

/** Every model in the chain was unavailable without a single attempt: one answer naming them all. */
export function mergeUnavailable(errors: GatewayError[]): GatewayError {
  const allRateLimited = errors.every((e) => e.kind === 'rate_limited');
  const waits = errors.map((e) => e.retryAfterMs).filter((ms): ms is number => ms !== undefined);
  return new GatewayError(allRateLimited ? 'rate_limited' : 'unavailable', errors.map((e) => e.message).join(' '), {
    code: allRateLimited ? 'all_deployments_rate_limited' : 'all_deployments_unavailable',
    retryable: false,
    ...(waits.length > 0 ? { retryAfterMs: Math.min(...waits) } : {}),
  });
}
