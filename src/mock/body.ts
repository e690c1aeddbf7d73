/** Bodies at the mock's edge: a request body read whole (up to a limit), parsed as JSON; a JSON answer sent. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const MAX_BODY_BYTES = 32 * 1024 * 1024;

export type BodyResult = { text: string } | { tooLarge: true } | null;

/** The whole request body; null if the client went away first. */
export function readBody(req: IncomingMessage, signal: AbortSignal): Promise<BodyResult> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    const done = (result: BodyResult) => {
      signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const onAbort = () => done(null);
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('data', (part: Buffer) => {
      size += part.length;
      if (size <= MAX_BODY_BYTES) parts.push(part);
    });
    req.on('end', () => done(size > MAX_BODY_BYTES ? { tooLarge: true } : { text: Buffer.concat(parts).toString('utf8') }));
    req.on('error', () => done(null));
  });
}

export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

export function sendJson(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}
