import type { ResultMeta } from '../pipeline/index.js';

// The headers the gateway sets on its answers (the x-lifeline-* it reports, lengths). The headers a client may send
// (x-lifeline-timeout-ms, -fallbacks, -transforms) are read in controls.ts.

export function byteLength(body: string): string {
  return String(Buffer.byteLength(body));
}

/** Who answered, after how many attempts; the fallback model and what the context check changed, when any. */
export function metaHeaders(
  meta: Pick<ResultMeta, 'deployment' | 'fallback' | 'applied'> & { attempts: number | readonly unknown[] },
): Record<string, string> {
  const h = attemptHeaders(meta.deployment, typeof meta.attempts === 'number' ? meta.attempts : meta.attempts.length);
  if (meta.fallback) h['x-lifeline-fallback'] = headerSafe(meta.fallback);
  if (meta.applied) h['x-lifeline-transformed'] = headerSafe(meta.applied.join('; '));
  return h;
}

export function attemptHeaders(deployment: string | undefined, attempts: number): Record<string, string> {
  const h: Record<string, string> = { 'x-lifeline-attempts': String(attempts) };
  if (deployment) h['x-lifeline-deployment'] = headerSafe(deployment);
  return h;
}

/** Config names may hold any characters; a header value may not. Printable ASCII passes as is, the rest is %-encoded. */
export function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}
