export { backoffCap, fullJitterDelay, retryDelay } from './backoff.js';
export type { RetryDelayOptions } from './backoff.js';
export { DEFAULT_RETRY_BUDGET, RetryBudget } from './budget.js';
export type { RetryBudgetPolicy, RetryBudgetStats } from './budget.js';
