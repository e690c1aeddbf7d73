import { TRANSFORM_NAMES } from '../config/schema.js';
import type { Transform } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { ResultMeta } from '../pipeline/index.js';
import type { Exchange } from './adapters/exchange.js';

/** The per-request knobs a client may turn: only ever narrowing what the config allows. */
export function requestControls(headers: Exchange['headers']): { timeoutMs?: number; fallbacks?: boolean; transforms?: Transform[] } {
  const controls: { timeoutMs?: number; fallbacks?: boolean; transforms?: Transform[] } = {};
  const timeout = one(headers['x-lifeline-timeout-ms']);
  if (timeout !== undefined) {
    const ms = Number(timeout);
    if (!/^\d+$/.test(timeout.trim()) || ms <= 0) {
      throw new GatewayError('bad_request', `Header x-lifeline-timeout-ms must be a positive whole number of milliseconds, got "${timeout.slice(0, 40)}"`, {
        code: 'invalid_header',
        param: 'x-lifeline-timeout-ms',
      });
    }
    controls.timeoutMs = ms;
  }
  const fallbacks = one(headers['x-lifeline-fallbacks'])?.trim().toLowerCase();
  if (fallbacks === 'off' || fallbacks === 'false' || fallbacks === '0') controls.fallbacks = false;
  const transforms = one(headers['x-lifeline-transforms']);
  if (transforms !== undefined) {
    const names = transforms.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean);
    const unknown = names.filter((n) => !(TRANSFORM_NAMES as readonly string[]).includes(n));
    if (unknown.length > 0) {
      throw new GatewayError('bad_request', `Header x-lifeline-transforms: unknown transform "${unknown[0]?.slice(0, 40)}" (valid: ${TRANSFORM_NAMES.join(', ')})`, {
        code: 'invalid_header',
        param: 'x-lifeline-transforms',
      });
    }
    controls.transforms = names as Transform[];
  }
  return controls;
}

export function byteLength(body: string): string {
  return String(Buffer.byteLength(body));
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

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
