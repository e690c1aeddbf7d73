import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { GatewayError } from '../errors.js';
import type { Exchange } from './adapters/exchange.js';
import { checkJsonDepth } from './json-depth.js';

/** Request `Content-Encoding`s the gateway decodes; `identity` means none. */
const DECODERS: Readonly<Record<string, () => Transform>> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  br: createBrotliDecompress,
  deflate: createInflate, // RFC 9110's `deflate`: a zlib stream (RFC 1950)
};
const SUPPORTED = 'gzip, x-gzip, br, deflate, identity';
/** More layers than any real client sends: each one costs a decoder (and its window) for the request's lifetime. */
const MAX_CODINGS = 3;

function tooLarge(limit: number): GatewayError {
  return new GatewayError('payload_too_large', `Request body is larger than the limit of ${limit} bytes`, {
    code: 'request_too_large',
  });
}

function tooLargeDecoded(limit: number, header: string): GatewayError {
  return new GatewayError(
    'payload_too_large',
    `Request body is larger than the limit of ${limit} bytes once decompressed (Content-Encoding: ${header}); the limit applies after decompression`,
    { code: 'request_too_large' },
  );
}

function bodyTimeout(ms: number): GatewayError {
  return new GatewayError('bad_request', `The request body was not received in full within ${ms} ms (server.body_timeout_ms)`, {
    status: 408,
    code: 'request_body_timeout',
    retryable: false,
  });
}

function unsupported(message: string): GatewayError {
  return new GatewayError('bad_request', `${message}; supported: ${SUPPORTED} (or a comma-separated list of them)`, {
    status: 415,
    code: 'unsupported_content_encoding',
  });
}

/**
 * The codings to undo, in the order to undo them (the reverse of the order they were applied, RFC 9110 §8.4),
 * `identity` left out; a 415 for a coding the gateway does not decode.
 */
export function contentCodings(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const raw = Array.isArray(header) ? header.join(',') : header;
  const codings = raw
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  const bad = codings.find((c) => !Object.hasOwn(DECODERS, c));
  if (bad !== undefined) throw unsupported(`Content-Encoding "${bad.slice(0, 40)}" is not supported`);
  if (codings.length > MAX_CODINGS) {
    throw unsupported(`Content-Encoding lists ${codings.length} codings, at most ${MAX_CODINGS} are accepted`);
  }
  return codings.reverse();
}

/**
 * Reads the request body, refusing at once (without reading on) when it is over `limit` bytes. A body with a
 * `Content-Encoding` is decompressed as it arrives; `limit` applies both to the bytes received and to the
 * decompressed bytes (every layer of them), so a small compressed body that inflates past it is refused as soon
 * as it does, never inflated into memory. The returned Buffer is the decompressed body: its `length` is the
 * request's size for per-model limits.
 *
 * A body from a socket that has not arrived in full within `timeoutMs` (0: no limit) is a 408, however it comes
 * in: stalled, or trickled a byte at a time (which no idle timeout would catch). Where it stands is left unread:
 * the 408 closes the connection.
 */
export async function readBody(ex: Exchange, limit: number, timeoutMs = 0): Promise<Buffer> {
  try {
    return await read(ex, limit, timeoutMs);
  } catch (err) {
    // Anything but our own verdicts (413, 400, 415) is the client's connection failing mid-body: a reset, an abort.
    throw err instanceof GatewayError ? err : clientClosed(err);
  }
}

/**
 * `readBody` with the server's limits, noting on `ctx` that the body was read to its end (so the connection can be
 * kept): also when it could not be decoded, since that is found only at its end.
 */
export async function readRequestBody(ex: Exchange, ctx: { bodyRead?: boolean }, server: { max_body_bytes: number; body_timeout_ms: number }): Promise<Buffer> {
  try {
    const raw = await readBody(ex, server.max_body_bytes, server.body_timeout_ms);
    ctx.bodyRead = true;
    return raw;
  } catch (err) {
    if (err instanceof GatewayError && err.code === 'invalid_body_encoding') ctx.bodyRead = true;
    throw err;
  }
}

function clientClosed(cause?: unknown): GatewayError {
  return new GatewayError('connection', 'The client closed the request before sending its body', { code: 'client_closed', retryable: false, cause });
}

async function read(ex: Exchange, limit: number, timeoutMs: number): Promise<Buffer> {
  if (ex.declaredLength !== undefined && ex.declaredLength > limit) throw tooLarge(limit);
  const codings = contentCodings(ex.headers['content-encoding']);
  if (codings.length > 0) return readDecoded(ex, codings, limit, timeoutMs);
  if (isReadable(ex.body)) {
    // The request handler runs while node's parser is still inside the packet that carried the headers; one
    // microtask later it has buffered the rest of that packet, which holds a small body whole. Taking it from
    // the buffer then saves the event-loop ticks of a 'data' + 'end' read (~100 µs of the first token at c=1).
    await null;
    const declared = ex.declaredLength;
    if (declared !== undefined && declared > 0 && ((ex.body as { readableLength?: number }).readableLength ?? 0) >= declared) {
      return readBuffered(ex.body, limit);
    }
    return readStream(ex.body, limit, timeoutMs);
  }
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of ex.body) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    parts.push(chunk);
  }
  return parts.length === 1 ? Buffer.from(parts[0]!.buffer, parts[0]!.byteOffset, size) : Buffer.concat(parts, size);
}

function isReadable(body: AsyncIterable<Uint8Array>): body is AsyncIterable<Uint8Array> & NodeJS.ReadableStream {
  return typeof (body as Partial<NodeJS.ReadableStream>).on === 'function';
}

/** A body that is all in the stream's buffer (the parser enforces the declared length), read synchronously. */
function readBuffered(body: NodeJS.ReadableStream, limit: number): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  for (let chunk = body.read() as Buffer | null; chunk !== null; chunk = body.read() as Buffer | null) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    parts.push(chunk);
  }
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size);
}

/** A node:http request body with plain events: the hot path, without an async iterator per request. */
function readStream(body: NodeJS.ReadableStream, limit: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            cleanup();
            body.pause();
            reject(bodyTimeout(timeoutMs));
          }, timeoutMs)
        : undefined;
    const cleanup = (): void => {
      clearTimeout(timer);
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('close', onClose);
      // 'error' stays handled (a settled promise ignores it): a client reset after a 413 must not go uncaught.
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        body.pause();
        reject(tooLarge(limit));
        return;
      }
      parts.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    // The client went away mid-body ('close' without 'end'), as the async iterator would report it.
    const onClose = (): void => {
      cleanup();
      reject(clientClosed());
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.on('error', onError);
    body.once('close', onClose);
  });
}

/**
 * Streams the body through one decoder per coding, counting every layer's output. Past the limit → 413 at once
 * (the decoders destroyed; the 413 closes the connection). Corrupt data → 400 once the rest of the body (still
 * counted against the limit) has been read and dropped, so that a keep-alive connection stays usable.
 */
async function readDecoded(ex: Exchange, codings: string[], limit: number, timeoutMs: number): Promise<Buffer> {
  const header = [...codings].reverse().join(', ');
  const decoders = codings.map((c) => DECODERS[c]!());
  const parts: Buffer[] = [];
  let size = 0;
  let stopped = false;
  let corrupt: GatewayError | undefined;
  let oversize!: (err: GatewayError) => void;
  const overLimit = new Promise<never>((_, reject) => {
    oversize = reject;
  });
  let finished!: () => void;
  const ended = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const stop = (): void => {
    stopped = true;
    for (const d of decoders) d.destroy();
    finished();
  };

  decoders.forEach((decoder, i) => {
    const next = decoders[i + 1];
    let layer = 0;
    decoder.on('error', (err: Error) => {
      if (stopped) return;
      corrupt = new GatewayError('bad_request', `Request body could not be decoded (Content-Encoding: ${header}): ${err.message}`, {
        code: 'invalid_body_encoding',
        cause: err,
      });
      stop();
    });
    decoder.on('data', (chunk: Buffer) => {
      if (stopped) return;
      layer += chunk.length;
      if (layer > limit) {
        stop();
        oversize(tooLargeDecoded(limit, header));
      } else if (!next) {
        parts.push(chunk);
        size = layer;
      } else if (!next.write(chunk)) {
        decoder.pause();
        next.once('drain', () => decoder.resume());
      }
    });
    decoder.on('end', () => (next ? next.end() : finished()));
  });

  const first = decoders[0]!;
  const feed = async (): Promise<void> => {
    let received = 0;
    for await (const chunk of keepOpen(ex.body)) {
      received += chunk.length;
      if (received > limit) throw tooLarge(limit);
      if (corrupt) continue; // read and drop the rest, so the connection can carry the next request
      if (stopped) break; // over the limit: the 413 is on its way and closes the connection
      if (!first.write(chunk)) await drained(first);
    }
    if (!stopped) first.end();
    await ended;
    if (corrupt) throw corrupt;
  };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    if (timeoutMs > 0) timer = setTimeout(() => reject(bodyTimeout(timeoutMs)), timeoutMs);
  });
  try {
    await Promise.race([feed(), overLimit, late]);
  } finally {
    clearTimeout(timer);
    stop();
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
}

/**
 * The body's chunks, without the destroy a Readable's own iterator does on an early exit: that would destroy the
 * request, and with it the connection, before the 413 could be written on it.
 */
function keepOpen(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const readable = body as Partial<Readable>;
  return typeof readable.iterator === 'function' ? { [Symbol.asyncIterator]: () => readable.iterator!({ destroyOnReturn: false }) } : body;
}

function drained(stream: Transform): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/** A model's own `max_request_bytes`, checked once the model is known, against the (decompressed) body size. */
export function checkModelLimit(model: string, limit: number | undefined, size: number): void {
  if (limit === undefined || size <= limit) return;
  throw new GatewayError(
    'payload_too_large',
    `Request body is ${size} bytes, larger than the limit of ${limit} bytes for model '${model}' (measured after decompression)`,
    { code: 'request_too_large' },
  );
}

/** Parses a JSON object body; anything else is a 400 that says what was wrong. */
export function parseJsonObject(raw: Buffer | string): Record<string, unknown> {
  if (raw.length === 0) {
    throw new GatewayError('bad_request', 'Request body is empty; expected a JSON object', { code: 'invalid_json' });
  }
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  checkJsonDepth(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof SyntaxError ? `: ${err.message}` : '';
    throw new GatewayError('bad_request', `Request body is not valid JSON${detail}`, { code: 'invalid_json' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new GatewayError('bad_request', 'Request body must be a JSON object', { code: 'invalid_json' });
  }
  return value as Record<string, unknown>;
}
