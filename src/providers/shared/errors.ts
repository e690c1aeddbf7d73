/**
 * The parts of error classification every provider shares: what an HTTP status means when the wire says nothing
 * more, what the client sees for each kind, which kinds are worth a retry, and how an upstream's message is shown.
 * Each provider's errors.ts reads its own wire (OpenAI's `{"error":{…}}`, Anthropic's error types, Google's gRPC
 * status names, AWS exception types) and builds its GatewayError from these. Pure.
 */
import { type ErrorKind, GatewayError } from '../../errors.js';
import { header, retryHintMs, shouldRetryHeader } from '../../resilience/retry-hints.js';
import { secretsOf } from '../../secrets.js';
import type { Deployment, Headers } from '../../types.js';

/** An upstream 2xx whose body is not what its API promises: a retryable server fault. */
export function malformed(d: Deployment, what: string): GatewayError {
  return new GatewayError('server', `Upstream ${d.id} returned ${what}`, {
    code: 'upstream_malformed_response',
    deployment: d.id,
  });
}

/** What the client sees for an upstream failure of each kind, the same for every provider. */
const CLIENT_STATUS: Partial<Record<ErrorKind, number>> = {
  auth: 502, // the gateway's upstream credentials failed, not the client's
  not_found: 502, // a configured target the upstream does not know is a config fault
  timeout: 504,
  server: 502, // an upstream 500 is the gateway's bad gateway, whatever code the upstream used
  overloaded: 503,
};

export function clientStatus(kind: ErrorKind, upstreamStatus: number): number {
  return CLIENT_STATUS[kind] ?? (upstreamStatus >= 400 && upstreamStatus < 600 ? upstreamStatus : 502);
}

const CONTEXT_RE = /context[_ ]length|maximum context|context window|too many tokens|prompt is too long/i;
const POLICY_CODES = new Set(['content_filter', 'content_policy_violation']);

/**
 * Maps an upstream status + error code and message to an error kind: the whole story for OpenAI's wire and
 * Anthropic's, the fallback for Gemini and Bedrock when their own error names say nothing more.
 */
export function kindForStatus(status: number, code: string, message: string): ErrorKind {
  if (status === 400 || status === 422) {
    if (code === 'context_length_exceeded' || CONTEXT_RE.test(message)) return 'context_length';
    if (POLICY_CODES.has(code)) return 'content_policy';
    return 'bad_request';
  }
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not_found';
  if (status === 408) return 'timeout';
  if (status === 409) return 'server'; // OpenAI: lock contention; safe to retry
  if (status === 413) return code === 'context_length_exceeded' ? 'context_length' : 'bad_request';
  if (status === 429) return 'rate_limited';
  if (status === 503 || status === 529) return 'overloaded';
  if (status >= 500) return 'server';
  return 'bad_request';
}

const RETRYABLE_KINDS: ReadonlySet<ErrorKind> = new Set(['rate_limited', 'overloaded', 'server', 'timeout']);

/**
 * Whether to retry, as the upstream says it (`x-should-retry`) or else by kind: true for the transient kinds,
 * undefined (GatewayError's default for the kind) for the rest.
 */
export function retryableHint(headers: Headers, kind: ErrorKind): boolean | undefined {
  return shouldRetryHeader(headers) ?? (RETRYABLE_KINDS.has(kind) ? true : undefined);
}

/**
 * An upstream's error message as the client may see it: scrubbed of the provider's secrets (an upstream may echo
 * the key it was sent anywhere), and never at all for an auth failure, whose message may echo part of the key.
 * `credentials` names what was rejected ("AWS credentials" for Bedrock).
 */
export function shownMessage(kind: ErrorKind, message: string, d: Deployment, credentials = 'credentials'): string {
  if (kind === 'auth') return `the upstream rejected the ${credentials} configured for provider "${d.provider.name}"`;
  return secretsOf(d.provider).scrubUntrusted(message) || kind.replace('_', ' ');
}

/** The first of `names` present in `headers`: an upstream's request id, by the headers its provider uses. */
export function firstHeader(headers: Headers, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = header(headers, name);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** What a status-mapped upstream (OpenAI's wire, Anthropic's) said about an HTTP error. Untrusted. */
export interface StatusErrorFields {
  /** The upstream's message; it classifies, and is shown only as `shownMessage` shows it. */
  message: string;
  /** The code that classifies (OpenAI's `code`: `context_length_exceeded`, `content_filter`). */
  code: string;
  /** The code and param the error carries: shown only when plain identifiers. */
  shownCode: unknown;
  param?: unknown;
  /** The upstream's request id, from the header its provider uses. */
  requestId: string | undefined;
}

/**
 * An HTTP error from an upstream whose status says what went wrong (OpenAI and every host of its wire, Anthropic):
 * the kind from the status, code and message; the wait hint from `retry-after-ms` / `retry-after`; retryable as
 * `x-should-retry` says or by kind. Everything taken from the upstream is scrubbed of the provider's secrets.
 */
export function statusError(status: number, headers: Headers, fields: StatusErrorFields, d: Deployment): GatewayError {
  const secrets = secretsOf(d.provider);
  const kind = kindForStatus(status, fields.code, fields.message);
  const retryable = retryableHint(headers, kind);
  return new GatewayError(kind, `Upstream ${d.id} answered ${status}: ${shownMessage(kind, fields.message, d)}`, {
    status: clientStatus(kind, status),
    code: secrets.identifier(fields.shownCode),
    param: secrets.identifier(fields.param),
    ...(retryable === undefined ? {} : { retryable }),
    retryAfterMs: retryHintMs(headers),
    upstreamRequestId: secrets.requestId(fields.requestId),
    upstreamStatus: status,
    deployment: d.id,
  });
}
