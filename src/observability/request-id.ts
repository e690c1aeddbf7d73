import { randomUUID } from 'node:crypto';

const SANE_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The client's `x-request-id` when it is a sane token (no spaces, no control bytes, ≤ 128 chars); else a new one. */
export function requestIdFrom(value: string | string[] | undefined): string {
  const v = Array.isArray(value) ? value[0] : value;
  return v !== undefined && SANE_ID.test(v) ? v : randomUUID();
}
