/**
 * The AWS event-stream binary framing (`application/vnd.amazon.eventstream`) that Bedrock's ConverseStream
 * answers with. One message:
 *
 *   [total length u32][headers length u32][prelude CRC32 u32][headers][payload][message CRC32 u32]
 *
 * all big-endian; the prelude CRC covers the first 8 bytes, the message CRC everything before it. A header is
 * [name length u8][name][type u8][value]. Both directions live here: the decoder for the provider, the encoder
 * for the mock and the tests, so the two can never disagree on the format.
 */
import * as zlib from 'node:zlib';
import { GatewayError } from '../../errors.js';
import type { FrameLimits, StreamFrame } from '../../types.js';

const PRELUDE_BYTES = 12;
const CRC_BYTES = 4;
/** The smallest message: prelude + message CRC, no headers, no payload. */
const MIN_MESSAGE_BYTES = PRELUDE_BYTES + CRC_BYTES;
/** AWS caps a message at 16 MiB; anything larger is a corrupt length, not a big event. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

const STRING_TYPE = 7;

let table: Uint32Array | undefined;

function crcTable(): Uint32Array {
  if (table) return table;
  table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** CRC-32 (IEEE, as zlib computes it); `zlib.crc32` is missing before Node 20.15/22.2, so a table is the fallback. */
export function tableCrc32(bytes: Uint8Array): number {
  const t = crcTable();
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

export function crc32(bytes: Uint8Array): number {
  return nativeCrc32 ? nativeCrc32(bytes) >>> 0 : tableCrc32(bytes);
}

export type EventStreamHeaderValue = string | number | bigint | boolean | Buffer;

export interface EventStreamMessage {
  headers: Record<string, EventStreamHeaderValue>;
  payload: Buffer;
}

/** Encodes one message with string-typed headers (all that Bedrock's own events use). */
export function encodeEventStreamMessage(headers: Record<string, string>, payload: string | Buffer): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const nameBytes = Buffer.from(name, 'utf8');
    const valueBytes = Buffer.from(value, 'utf8');
    const head = Buffer.alloc(1 + nameBytes.length + 1 + 2);
    head.writeUInt8(nameBytes.length, 0);
    nameBytes.copy(head, 1);
    head.writeUInt8(STRING_TYPE, 1 + nameBytes.length);
    head.writeUInt16BE(valueBytes.length, 2 + nameBytes.length);
    parts.push(head, valueBytes);
  }
  const headerBytes = Buffer.concat(parts);
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const total = PRELUDE_BYTES + headerBytes.length + body.length + CRC_BYTES;
  const message = Buffer.alloc(total);
  encodeEventStreamPrelude(total, headerBytes.length).copy(message, 0);
  headerBytes.copy(message, PRELUDE_BYTES);
  body.copy(message, PRELUDE_BYTES + headerBytes.length);
  message.writeUInt32BE(crc32(message.subarray(0, total - CRC_BYTES)), total - CRC_BYTES);
  return message;
}

/** A message's first 12 bytes: its total and headers lengths, and their CRC. */
export function encodeEventStreamPrelude(total: number, headersLength: number): Buffer {
  const prelude = Buffer.alloc(PRELUDE_BYTES);
  prelude.writeUInt32BE(total, 0);
  prelude.writeUInt32BE(headersLength, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  return prelude;
}

function corrupt(what: string): GatewayError {
  return new GatewayError('server', `Upstream sent a corrupt event-stream message: ${what}`, {
    code: 'upstream_malformed_stream',
  });
}

/** Room for a message's prelude, headers and CRC on top of `max_event_bytes` of payload. */
const FRAMING_BYTES = 1024;

/** A malformed upstream answer (retried, failed over, or an error event once committed), not a big event. */
function tooLarge(total: number, max: number): GatewayError {
  return new GatewayError('server', `Upstream sent an event-stream message of ${total} bytes, over the limit of ${max} (streaming.max_event_bytes)`, {
    code: 'upstream_event_too_large',
  });
}

/** Value widths of the fixed-size header types; 6 (bytes) and 7 (string) carry a u16 length instead. */
const FIXED_WIDTH: Record<number, number> = { 0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16 };

function readHeaders(bytes: Buffer): Record<string, EventStreamHeaderValue> {
  const headers: Record<string, EventStreamHeaderValue> = {};
  let at = 0;
  const need = (n: number) => {
    if (at + n > bytes.length) throw corrupt('a header runs past its section');
  };
  while (at < bytes.length) {
    need(1);
    const nameLength = bytes.readUInt8(at++);
    need(nameLength + 1);
    const name = bytes.toString('utf8', at, at + nameLength);
    at += nameLength;
    const type = bytes.readUInt8(at++);
    let value: EventStreamHeaderValue;
    if (type === 6 || type === STRING_TYPE) {
      need(2);
      const length = bytes.readUInt16BE(at);
      at += 2;
      need(length);
      const raw = bytes.subarray(at, at + length);
      value = type === STRING_TYPE ? raw.toString('utf8') : Buffer.from(raw);
      at += length;
    } else {
      const width = FIXED_WIDTH[type];
      if (width === undefined) throw corrupt(`unknown header type ${type}`);
      need(width);
      if (type === 0 || type === 1) value = type === 0;
      else if (type === 2) value = bytes.readInt8(at);
      else if (type === 3) value = bytes.readInt16BE(at);
      else if (type === 4) value = bytes.readInt32BE(at);
      else if (type === 5 || type === 8) value = bytes.readBigInt64BE(at);
      else value = Buffer.from(bytes.subarray(at, at + width));
      at += width;
    }
    headers[name] = value;
  }
  return headers;
}

/**
 * Incremental decoder: feed it bytes as they arrive, split anywhere, and it returns the messages completed so
 * far. Both CRCs are checked; a mismatch or an impossible length throws, since nothing after it can be trusted.
 * A message longer than `maxMessageBytes` throws as soon as its prelude is read: it is never buffered.
 */
export class EventStreamDecoder {
  private buffer: Buffer = Buffer.alloc(0);
  /** Chunks of a message still incomplete, not yet joined: joining on every chunk would copy a big one over and over. */
  private readonly parts: Buffer[] = [];
  private partsLength = 0;
  /** What the message in `buffer` needs in all; 0 while its prelude is not read. */
  private needed = 0;
  private readonly maxMessageBytes: number;
  /** What went wrong after the messages `push` last returned: thrown by the next call (they were good). */
  private failure: GatewayError | undefined;

  constructor(maxMessageBytes: number = MAX_MESSAGE_BYTES) {
    this.maxMessageBytes = Math.min(maxMessageBytes, MAX_MESSAGE_BYTES);
  }

  push(chunk: Buffer): EventStreamMessage[] {
    this.throwFailure();
    if (this.needed > 0 && this.buffer.length + this.partsLength + chunk.length < this.needed) {
      this.parts.push(chunk);
      this.partsLength += chunk.length;
      return [];
    }
    this.buffer = this.buffer.length === 0 && this.parts.length === 0 ? chunk : Buffer.concat([this.buffer, ...this.parts, chunk]);
    this.parts.length = 0;
    this.partsLength = 0;
    this.needed = 0;
    const out: EventStreamMessage[] = [];
    try {
      this.read(out);
    } catch (err) {
      if (out.length === 0 || !(err instanceof GatewayError)) throw err;
      this.failure = err;
    }
    return out;
  }

  /** Throws the fault that followed the messages `push` last returned, if one did. */
  throwFailure(): void {
    if (this.failure) throw this.failure;
  }

  private read(out: EventStreamMessage[]): void {
    while (this.buffer.length >= PRELUDE_BYTES) {
      const total = this.buffer.readUInt32BE(0);
      const headersLength = this.buffer.readUInt32BE(4);
      if (crc32(this.buffer.subarray(0, 8)) !== this.buffer.readUInt32BE(8)) throw corrupt('prelude CRC mismatch');
      if (total < MIN_MESSAGE_BYTES || total > MAX_MESSAGE_BYTES || headersLength > total - MIN_MESSAGE_BYTES) {
        throw corrupt(`impossible lengths (total ${total}, headers ${headersLength})`);
      }
      if (total > this.maxMessageBytes) throw tooLarge(total, this.maxMessageBytes);
      if (this.buffer.length < total) {
        this.needed = total;
        break;
      }
      const message = this.buffer.subarray(0, total);
      if (crc32(message.subarray(0, total - CRC_BYTES)) !== message.readUInt32BE(total - CRC_BYTES)) {
        throw corrupt('message CRC mismatch');
      }
      out.push({
        headers: readHeaders(message.subarray(PRELUDE_BYTES, PRELUDE_BYTES + headersLength)),
        payload: Buffer.from(message.subarray(PRELUDE_BYTES + headersLength, total - CRC_BYTES)),
      });
      this.buffer = this.buffer.subarray(total);
    }
  }

  /** Bytes of an unfinished message: non-zero at the end of a body means the stream was cut mid-message. */
  get pending(): number {
    return this.buffer.length + this.partsLength;
  }
}

function text(value: EventStreamHeaderValue | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * A message as a stream frame: events are named by `:event-type`, exceptions by `:exception-type`, and the
 * generic `error` message type by its `:error-code` (its message, in a header, becomes a JSON payload).
 */
export function frameOf(message: EventStreamMessage): StreamFrame {
  const h = message.headers;
  const kind = text(h[':message-type']) ?? 'event';
  if (kind === 'exception') return { event: text(h[':exception-type']) ?? 'exception', data: message.payload.toString('utf8') };
  if (kind === 'error') {
    return {
      event: text(h[':error-code']) ?? 'internalServerException',
      data: JSON.stringify({ message: text(h[':error-message']) ?? 'stream error' }),
    };
  }
  return { event: text(h[':event-type']), data: message.payload.toString('utf8') };
}

/**
 * The upstream body as frames; pure, like every provider function: it only transforms the bytes it is given.
 * `maxEventBytes` bounds a message's payload (its prelude, headers and CRC get `FRAMING_BYTES` on top).
 */
export async function* eventStreamFrames(body: AsyncIterable<Buffer>, limits?: FrameLimits): AsyncGenerator<StreamFrame> {
  const decoder = new EventStreamDecoder(limits ? limits.maxEventBytes + FRAMING_BYTES : MAX_MESSAGE_BYTES);
  for await (const chunk of body) {
    for (const message of decoder.push(chunk)) yield frameOf(message);
    decoder.throwFailure();
  }
}
