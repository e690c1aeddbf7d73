import { GatewayError } from '../errors.js';
import type { Exchange } from './exchange.js';

function tooLarge(limit: number): GatewayError {
  return new GatewayError('payload_too_large', `Request body is larger than the limit of ${limit} bytes`, {
    code: 'request_too_large',
  });
}

/** Reads the request body, refusing at once (without reading on) when it is over `limit` bytes. */
export async function readBody(ex: Exchange, limit: number): Promise<Buffer> {
  if (ex.declaredLength !== undefined && ex.declaredLength > limit) throw tooLarge(limit);
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of ex.body) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    parts.push(chunk);
  }
  return parts.length === 1 ? Buffer.from(parts[0]!.buffer, parts[0]!.byteOffset, size) : Buffer.concat(parts, size);
}

/** Parses a JSON object body; anything else is a 400 that says what was wrong. */
export function parseJsonObject(raw: Buffer): Record<string, unknown> {
  if (raw.length === 0) {
    throw new GatewayError('bad_request', 'Request body is empty; expected a JSON object', { code: 'invalid_json' });
  }
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    const detail = err instanceof SyntaxError ? `: ${err.message}` : '';
    throw new GatewayError('bad_request', `Request body is not valid JSON${detail}`, { code: 'invalid_json' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new GatewayError('bad_request', 'Request body must be a JSON object', { code: 'invalid_json' });
  }
  return value as Record<string, unknown>;
}
