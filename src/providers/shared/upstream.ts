import { type ErrorKind, GatewayError } from '../../errors.js';
import type { Deployment } from '../../types.js';

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

/** An upstream 2xx body as JSON; anything unparseable is a retryable malformed-response fault. */
export function parseUpstreamJson(bodyText: string, d: Deployment): unknown {
  try {
    return JSON.parse(bodyText);
  } catch {
    throw malformed(d, 'a body that is not JSON');
  }
}

/** An OpenAI tool call, as every provider's response translation builds it. */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}
