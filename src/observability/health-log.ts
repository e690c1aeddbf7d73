import type { Logger } from './logger.js';

/** A deployment's breaker or rotation changing (routing/health.ts `HealthTransition`). */
export interface Transition {
  deployment: string;
  to: 'open' | 'half_open' | 'closed' | 'disabled' | 'enabled';
  reason?: string;
}

/**
 * The log line of each transition, as it happens: a breaker opening and a deployment taken out of rotation at warn;
 * a half-open trial, a breaker closing and a deployment back in rotation at info. Fields: `deployment`, `breaker`
 * (or `rotation`), `reason`.
 */
export function transitionLogger(logger: Logger): (t: Transition) => void {
  return (t) => {
    const reason = t.reason === undefined ? {} : { reason: t.reason };
    switch (t.to) {
      case 'open':
        logger.warn({ deployment: t.deployment, breaker: 'open', ...reason }, `circuit opened for ${t.deployment}: ${t.reason ?? 'failures'}`);
        return;
      case 'half_open':
        logger.info({ deployment: t.deployment, breaker: 'half_open', ...reason }, `circuit half-open for ${t.deployment}: one trial request goes through`);
        return;
      case 'closed':
        logger.info({ deployment: t.deployment, breaker: 'closed' }, `circuit closed for ${t.deployment}: it answered again`);
        return;
      case 'disabled':
        logger.warn({ deployment: t.deployment, rotation: 'disabled', ...reason }, `deployment ${t.deployment} taken out of rotation: ${t.reason ?? ''}`);
        return;
      case 'enabled':
        logger.info({ deployment: t.deployment, rotation: 'enabled', ...reason }, `deployment ${t.deployment} back in rotation`);
    }
  };
}
