import type { ModelConfig } from '../config/types.js';
import type { GatewayError } from '../errors.js';

/** Statuses the official OpenAI and Anthropic SDKs retry on their own (`shouldRetry`), unless told otherwise. */
function sdkRetries(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/**
 * Whether the client should retry a request the pipeline failed, as the `x-should-retry` header the official SDKs
 * obey over their default retries and over Retry-After. One layer retries, not two: when the gateway's own policy
 * has had its say (it retried, failed over, or found nothing it could try now, or chose not to try again: a hint
 * longer than it waits, a spent retry budget, a deadline with no room), an SDK retry would multiply the attempts
 * and the client's wait. Only a model configured for a single attempt leaves the retrying to the client; an error
 * no SDK retries (a 4xx the request caused) needs no header. Retry-After stays as it is: honest, for whoever decides.
 */
export function shouldRetryHeader(err: GatewayError, attempts: number, model: ModelConfig): Record<string, string> {
  if (!sdkRetries(err.status)) return {};
  if (attempts === 1 && singleAttempt(model)) return {};
  return { 'x-should-retry': 'false' };
}

/** The gateway would never make a second attempt for this model: no retry, no fallback. */
function singleAttempt(model: ModelConfig): boolean {
  return model.retry.max_attempts <= 1 && (model.fallbacks.length === 0 || model.retry.max_fallbacks === 0);
}
