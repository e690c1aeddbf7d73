import { TRANSFORMS } from '../config/types.js';
import type { Transform } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { Exchange } from './adapters/exchange.js';

/**
 * The per-request knobs a client may turn, by request header: each only ever narrows what the config allows.
 * - `x-lifeline-timeout-ms`: a lower total deadline than the model's `timeouts.total_ms`;
 * - `x-lifeline-fallbacks: off` (or `false`, `0`): the requested model only, none of its fallbacks;
 * - `x-lifeline-transforms`: transforms to apply on top of the model's own (`middle-out`).
 */
export interface RequestControls {
  timeoutMs?: number;
  fallbacks?: boolean;
  transforms?: Transform[];
}

/** The client's controls from its request headers; a 400 naming the header when one is malformed. */
export function requestControls(headers: Exchange['headers']): RequestControls {
  const controls: RequestControls = {};
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
    const unknown = names.filter((n) => !(TRANSFORMS as readonly string[]).includes(n));
    if (unknown.length > 0) {
      throw new GatewayError('bad_request', `Header x-lifeline-transforms: unknown transform "${unknown[0]?.slice(0, 40)}" (valid: ${TRANSFORMS.join(', ')})`, {
        code: 'invalid_header',
        param: 'x-lifeline-transforms',
      });
    }
    controls.transforms = names as Transform[];
  }
  return controls;
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
