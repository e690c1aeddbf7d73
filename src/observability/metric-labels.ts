import type { ErrorKind } from '../errors.js';

/** The model label of a request whose model is not configured (whatever the client sent). */
export const OTHER = 'other';
/** The model label of a request that names no model (probes, `/v1/models`, a body that could not be read). */
export const NONE = 'none';

/** Every error kind, as a label value (a Record so that a new kind fails to compile until it is listed here). */
const KINDS: Readonly<Record<ErrorKind, true>> = {
  rate_limited: true,
  overloaded: true,
  server: true,
  timeout: true,
  connection: true,
  context_length: true,
  content_policy: true,
  auth: true,
  bad_request: true,
  not_found: true,
  budget: true,
  payload_too_large: true,
  method_not_allowed: true,
  unavailable: true,
  internal: true,
};

/** The values of `lifeline_upstream_attempts_total`'s `outcome` label: ok, an error kind, hedge_lost, cancelled. */
export const ATTEMPT_OUTCOMES: readonly string[] = ['ok', ...Object.keys(KINDS), 'hedge_lost', 'cancelled'];
const OUTCOME_SET = new Set(ATTEMPT_OUTCOMES);

/** The rate-limit kinds `lifeline_ratelimit_remaining` reports (OpenAI's two, Anthropic's four). */
export const RATELIMIT_KINDS = ['requests', 'tokens', 'input_tokens', 'output_tokens'] as const;

/**
 * The label values a gateway may emit: only configured model and deployment names. Every config a gateway has run
 * with adds its names (a reload keeps the series of the names it removed: they were configured, and are few);
 * anything else a client sends is `other`. So the number of series is bounded by the configs, not by the traffic.
 */
export class LabelBounds {
  private readonly models = new Set<string>();
  private readonly deployments = new Set<string>();

  know(models: Iterable<string>, deployments: Iterable<string>): void {
    for (const m of models) this.models.add(m);
    for (const d of deployments) this.deployments.add(d);
  }

  /** A client-facing model name: itself when configured, `other` when not, `none` when the request had none. */
  model(name: string | undefined): string {
    if (name === undefined) return NONE;
    return this.models.has(name) ? name : OTHER;
  }

  deployment(id: string | undefined): string {
    if (id === undefined) return NONE;
    return this.deployments.has(id) ? id : OTHER;
  }

  /** An attempt's outcome: one of ATTEMPT_OUTCOMES, else `other`. */
  outcome(value: string | undefined): string {
    if (value === undefined) return 'ok';
    return OUTCOME_SET.has(value) ? value : OTHER;
  }
}

/** An HTTP status as a label: the three digits, or `0` when no status was sent. */
export function statusLabel(status: number | undefined): string {
  return status !== undefined && Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : '0';
}
