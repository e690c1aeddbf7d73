import type { GatewayError } from '../../../errors.js';
import { SSE_HEADERS } from '../openai/dialect.js';
import type { StreamWriter } from '../../ingress.js';
import { anthropicErrorJson, messageId, stopReason, type AnthropicUsage, usageFrom } from './shape.js';

/**
 * Canonical `chat.completion.chunk`s → Anthropic Messages SSE, in the order the official SDKs assume:
 *
 *   message_start
 *   (content_block_start, content_block_delta*, content_block_stop)*   one block at a time, indexes 0, 1, …
 *   message_delta                                                      stop_reason + usage
 *   message_stop
 *
 * OpenAI sends the finish chunk before the usage chunk, so `message_delta` waits until both are known (or
 * the stream is done); `message_stop` waits for the end of the stream, so a failure after the last token is
 * still reported as an `error` event rather than after a clean-looking end.
 */

type Json = Record<string, unknown>;

interface ChunkDelta {
  content?: unknown;
  refusal?: unknown;
  tool_calls?: unknown;
}

interface ChunkToolCall {
  index?: unknown;
  id?: unknown;
  function?: { name?: unknown; arguments?: unknown };
}

export function event(type: string, data: Json): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

export class AnthropicStreamWriter implements StreamWriter {
  readonly headers: Record<string, string>;
  private started = false;
  /** Index of the open content block, or -1. */
  private open = -1;
  private openKind: 'text' | 'tool_use' | undefined;
  private blocks = 0;
  /** Canonical tool-call index → content block index. */
  private readonly toolBlocks = new Map<number, number>();
  private finish: string | null | undefined;
  private usage: AnthropicUsage | undefined;
  private deltaSent = false;
  /** Characters of output, for an estimate when the upstream never reports usage. */
  private outputChars = 0;

  constructor(private readonly requestId?: string) {
    this.headers = requestId ? { ...SSE_HEADERS, 'request-id': requestId } : { ...SSE_HEADERS };
  }

  chunk(e: { data: string }): string {
    let chunk: Json;
    try {
      chunk = JSON.parse(e.data) as Json;
    } catch {
      return ''; // the pipeline only hands over chunks it parsed; nothing sensible to say about one it did not
    }
    let out = this.start(chunk);
    const choice = Array.isArray(chunk.choices) ? (chunk.choices as Json[]).find((c) => (c?.index ?? 0) === 0) : undefined;
    if (choice) {
      const delta = (choice.delta ?? {}) as ChunkDelta;
      for (const text of [delta.content, delta.refusal]) {
        if (typeof text === 'string' && text !== '') out += this.text(text);
      }
      if (Array.isArray(delta.tool_calls)) {
        for (const call of delta.tool_calls as ChunkToolCall[]) out += this.toolCall(call);
      }
      if (typeof choice.finish_reason === 'string') {
        this.finish = choice.finish_reason;
        out += this.closeBlock();
      }
    }
    if (chunk.usage && typeof chunk.usage === 'object') this.usage = usageFrom(chunk.usage as Json);
    if (this.finish !== undefined && this.usage) out += this.messageDelta();
    return out;
  }

  done(): string {
    return this.start({}) + this.messageDelta() + event('message_stop', {});
  }

  error(err: GatewayError): string {
    return anthropicEvent(err, this.requestId);
  }

  private start(chunk: Json): string {
    if (this.started) return '';
    this.started = true;
    const message = {
      id: messageId(chunk.id),
      type: 'message',
      role: 'assistant',
      model: typeof chunk.model === 'string' ? chunk.model : '',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 0, output_tokens: 0 },
    };
    return event('message_start', { message });
  }

  private text(text: string): string {
    this.outputChars += text.length;
    let out = '';
    if (this.openKind !== 'text') {
      out += this.closeBlock();
      out += this.openBlock('text', { type: 'text', text: '' });
    }
    return out + event('content_block_delta', { index: this.open, delta: { type: 'text_delta', text } });
  }

  private toolCall(call: ChunkToolCall): string {
    const index = typeof call.index === 'number' ? call.index : 0;
    let out = '';
    let block = this.toolBlocks.get(index);
    if (block === undefined) {
      out += this.closeBlock();
      const id = typeof call.id === 'string' && call.id !== '' ? call.id : `toolu_${index}`;
      const name = typeof call.function?.name === 'string' ? call.function.name : '';
      block = this.blocks;
      this.toolBlocks.set(index, block);
      out += this.openBlock('tool_use', { type: 'tool_use', id, name, input: {} });
    }
    const args = call.function?.arguments;
    if (typeof args === 'string' && args !== '') {
      this.outputChars += args.length;
      out += event('content_block_delta', { index: block, delta: { type: 'input_json_delta', partial_json: args } });
    }
    return out;
  }

  /** Clients read `content[0].text`; an answer with no content at all still gets an (empty) text block. */
  private emptyText(): string {
    if (this.blocks > 0) return '';
    return this.openBlock('text', { type: 'text', text: '' });
  }

  private openBlock(kind: 'text' | 'tool_use', contentBlock: Json): string {
    this.open = this.blocks++;
    this.openKind = kind;
    return event('content_block_start', { index: this.open, content_block: contentBlock });
  }

  private closeBlock(): string {
    if (this.open < 0) return '';
    const index = this.open;
    this.open = -1;
    this.openKind = undefined;
    return event('content_block_stop', { index });
  }

  private messageDelta(): string {
    if (this.deltaSent) return '';
    this.deltaSent = true;
    let out = this.emptyText() + this.closeBlock();
    const usage: Json = this.usage
      ? { ...this.usage }
      : { output_tokens: Math.max(1, Math.ceil(this.outputChars / 4)) };
    out += event('message_delta', {
      delta: { stop_reason: stopReason(this.finish ?? 'stop'), stop_sequence: null },
      usage,
    });
    return out;
  }
}

/** An error after the stream was committed: Anthropic's `error` event. */
export function anthropicEvent(err: GatewayError, requestId?: string): string {
  return `event: error\ndata: ${anthropicErrorJson(err, requestId)}\n\n`;
}
