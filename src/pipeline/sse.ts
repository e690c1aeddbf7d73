import { createParser } from 'eventsource-parser';
import type { StreamDecoder, StreamEvent } from '../providers/types.js';

/**
 * Upstream SSE bytes → canonical stream events. Parsing is incremental (each byte is scanned once),
 * and multi-byte characters split across network chunks are reassembled by the streaming TextDecoder.
 */
export async function* decodeSSE(body: AsyncIterable<Buffer>, decoder: StreamDecoder): AsyncGenerator<StreamEvent> {
  const text = new TextDecoder('utf-8');
  let pending: StreamEvent[] = [];
  const parser = createParser({
    onEvent(message) {
      const events = decoder.decode({ event: message.event, data: message.data });
      for (const e of events) pending.push(e);
    },
  });
  for await (const chunk of body) {
    parser.feed(text.decode(chunk, { stream: true }));
    if (pending.length > 0) {
      const out = pending;
      pending = [];
      yield* out;
    }
  }
  parser.feed(text.decode());
  if (pending.length > 0) yield* pending;
}

/**
 * Whether a canonical chunk carries a first token: content, a tool call, a refusal, a finish reason
 * or usage. A role-only opening chunk does not, so a stream that dies right after it is still retryable.
 */
export function carriesToken(data: string): boolean {
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
