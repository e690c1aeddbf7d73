/**
 * ConverseStream events → OpenAI `chat.completion.chunk`s. The wire order is messageStart, then per content
 * block contentBlockStart (tool use only) / contentBlockDelta… / contentBlockStop, then messageStop (the stop
 * reason) and last metadata (usage). `done` follows metadata; a stream that ends after messageStop without it
 * still completes (only usage is missing). Exceptions arrive as frames named by their type.
 */
import { bedrockStreamError } from './errors.js';
import { malformed } from '../shared/errors.js';
import { completionId, finishReason, toOpenAIUsage } from './response.js';
import type { Deployment, StreamEvent, StreamFrame } from '../../types.js';
import type { StreamDecoder } from '../adapter.js';

type Json = Record<string, unknown>;

export class BedrockStreamDecoder implements StreamDecoder {
  private readonly id = completionId();
  private readonly created = Math.floor(Date.now() / 1000);
  /** Converse numbers content blocks; OpenAI numbers tool calls: block index → tool call index. */
  private readonly toolIndex = new Map<number, number>();
  private stopped = false;
  private finished = false;

  constructor(private readonly d: Deployment) {}

  decode(frame: StreamFrame): StreamEvent[] {
    if (this.finished) return [];
    const name = frame.event ?? '';
    if (/exception$/i.test(name)) {
      this.finished = true;
      return [{ type: 'error', error: bedrockStreamError(name, frame.data, this.d) }];
    }
    let payload: Json;
    try {
      payload = JSON.parse(frame.data) as Json;
    } catch {
      this.finished = true;
      return [{ type: 'error', error: malformed(this.d, `a ${name || 'stream'} event whose payload is not JSON`) }];
    }
    // Every ConverseStream event is a JSON object; anything else is a malformed upstream, not an event to skip.
    if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
      this.finished = true;
      return [{ type: 'error', error: malformed(this.d, `a ${name || 'stream'} event whose payload is not a JSON object`) }];
    }
    switch (name) {
      case 'messageStart':
        return [this.chunk({ role: 'assistant', content: '' })];
      case 'contentBlockStart':
        return this.blockStart(payload);
      case 'contentBlockDelta':
        return this.blockDelta(payload);
      case 'messageStop':
        this.stopped = true;
        return [this.chunk({}, finishReason(payload.stopReason))];
      case 'metadata': {
        this.finished = true;
        const usage = toOpenAIUsage(payload.usage);
        const out: StreamEvent[] = usage ? [this.usageChunk(usage)] : [];
        out.push({ type: 'done' });
        return out;
      }
      default:
        return []; // contentBlockStop, and events this gateway has no use for
    }
  }

  end(): StreamEvent[] {
    if (this.finished || !this.stopped) return [];
    this.finished = true;
    return [{ type: 'done' }];
  }

  private blockStart(payload: Json): StreamEvent[] {
    const toolUse = (payload.start as Json | undefined)?.toolUse as Json | undefined;
    if (!toolUse) return [];
    const index = this.indexFor(payload.contentBlockIndex);
    const call = { index, id: String(toolUse.toolUseId ?? ''), type: 'function', function: { name: String(toolUse.name ?? ''), arguments: '' } };
    return [this.chunk({ tool_calls: [call] })];
  }

  private blockDelta(payload: Json): StreamEvent[] {
    const delta = (payload.delta ?? {}) as Json;
    if (typeof delta.text === 'string') return delta.text === '' ? [] : [this.chunk({ content: delta.text })];
    const toolUse = delta.toolUse as Json | undefined;
    if (toolUse && typeof toolUse.input === 'string') {
      const index = this.indexFor(payload.contentBlockIndex);
      return [this.chunk({ tool_calls: [{ index, function: { arguments: toolUse.input } }] })];
    }
    const reasoning = (delta.reasoningContent as Json | undefined)?.text;
    if (typeof reasoning === 'string' && reasoning !== '') return [this.chunk({ reasoning_content: reasoning })];
    return [];
  }

  private indexFor(blockIndex: unknown): number {
    const block = typeof blockIndex === 'number' ? blockIndex : -1;
    let index = this.toolIndex.get(block);
    if (index === undefined) {
      index = this.toolIndex.size;
      this.toolIndex.set(block, index);
    }
    return index;
  }

  private chunk(delta: Json, finish: string | null = null): StreamEvent {
    const data = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.d.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
    return { type: 'chunk', data: JSON.stringify(data) };
  }

  private usageChunk(usage: unknown): StreamEvent {
    const data = { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.d.model, choices: [], usage };
    return { type: 'chunk', data: JSON.stringify(data) };
  }
}
