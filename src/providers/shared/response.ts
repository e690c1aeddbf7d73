/**
 * Reading an upstream's success body, for every provider's response translation: the body as JSON, and the
 * canonical (OpenAI) tool call each translation builds.
 */
import type { Deployment } from '../../types.js';
import { malformed } from './errors.js';

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
