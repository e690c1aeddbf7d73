import { createParser } from 'eventsource-parser';
import type { ProviderAdapter, StreamDecoder, StreamEvent } from '../providers/types.js';
import { plainDeltaContent } from './plain-delta.js';

/**
 * Upstream stream body → canonical events, framed the provider's way (SSE unless it says otherwise). SSE is
 * parsed here, in the same generator as the decoding: one async hop per network chunk, not three per event.
 */
export async function* decodeStream(
  body: AsyncIterable<Buffer>,
  adapter: Pick<ProviderAdapter, 'frames'>,
  decoder: StreamDecoder,
): AsyncGenerator<StreamEvent> {
  if (adapter.frames) {
    for await (const frame of adapter.frames(body)) {
      const events = decoder.decode(frame);
      if (events.length > 0) yield* events;
    }
  } else {
    const text = new TextDecoder('utf-8');
    let pending: StreamEvent[] = [];
    const parser = createParser({
      onEvent(message) {
        pending.push(...decoder.decode(message.event === undefined ? { data: message.data } : { event: message.event, data: message.data }));
      },
    });
    for await (const chunk of body) {
      parser.feed(text.decode(chunk, { stream: true }));
      if (pending.length > 0) {
        const out = pending;
        pending = [];
        for (const e of out) yield e;
      }
    }
    parser.feed(text.decode());
    if (pending.length > 0) for (const e of pending) yield e;
  }
  const last = decoder.end?.();
  if (last && last.length > 0) yield* last;
}

/** Kept for callers that only speak SSE. */
export function decodeSSE(body: AsyncIterable<Buffer>, decoder: StreamDecoder): AsyncGenerator<StreamEvent> {
  return decodeStream(body, {}, decoder);
}

const OPENING_EVENTS = new Set(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);

/**
 * Whether a canonical chunk carries a first token: content, a tool call, a refusal, a finish reason
 * or usage. A role-only opening chunk does not, so a stream that dies right after it is still retryable.
 */
export function carriesToken(data: string, event?: string): boolean {
  // Named events (the Responses API): everything after the opening bookkeeping is the answer itself.
  if (event !== undefined) return !OPENING_EVENTS.has(event);
  const plain = plainDeltaContent(data);
  if (plain !== undefined) return plain !== ''; // a plain chunk has nothing else that could be a token
  let chunk: { choices?: Array<{ delta?: Record<string, unknown>; finish_reason?: unknown }>; usage?: unknown };
  try {
    chunk = JSON.parse(data);
  } catch {
    return true; // not ours to judge: forward it and let the client see it
  }
  if (chunk.usage) return true;
  for (const choice of chunk.choices ?? []) {
    if (choice.finish_reason) return true;
    const delta = choice.delta ?? {};
    if (typeof delta.content === 'string' && delta.content !== '') return true;
    if (delta.tool_calls || delta.function_call || delta.refusal || delta.reasoning_content) return true;
  }
  return false;
}
