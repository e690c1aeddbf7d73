/**
 * Anthropic Messages stream events → canonical `chat.completion.chunk`s. Pure and stateful per stream.
 *
 *   message_start            → a role chunk (no content: it does not commit the stream)
 *   content_block_start      → text: nothing (or its initial text); tool_use: a tool_calls delta with
 *                              index/id/type/name and empty arguments
 *   content_block_delta      → text_delta: content; input_json_delta: an arguments piece
 *   message_delta            → the finish chunk (stop_reason mapped), usage updated
 *   message_stop             → the usage chunk (`choices: []`), then done
 *   ping, content_block_stop, thinking/signature/citation deltas, unknown events → nothing
 *   error                    → an error event, classified by its type
 */
import { anthropicStreamError } from './errors.js';
import { malformed } from '../shared/errors.js';
import { type AnthropicUsage, canonicalUsage, finishReason } from './response.js';
import type { Deployment, StreamEvent, StreamFrame } from '../../types.js';
import type { StreamDecoder } from '../adapter.js';

type Json = Record<string, unknown>;

interface ToolBlock {
  /** The tool call's index among the message's tool calls (OpenAI numbers tool calls, not content blocks). */
  call: number;
  /** Whether any argument text was sent: a tool without input streams none, and "" is not JSON. */
  sentArguments: boolean;
}

export class AnthropicStreamDecoder implements StreamDecoder {
  private id = '';
  private model: string;
  private created = Math.floor(Date.now() / 1000);
  private usage: AnthropicUsage = {};
  private readonly tools = new Map<number, ToolBlock>();
  private finished = false;

  constructor(private readonly d: Deployment) {
    this.model = d.model;
  }

  decode(frame: StreamFrame): StreamEvent[] {
    let data: Json;
    try {
      data = JSON.parse(frame.data);
    } catch {
      return [{ type: 'error', error: malformed(this.d, 'a stream event that is not JSON') }];
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      return [{ type: 'error', error: malformed(this.d, 'a stream event that is not an object') }];
    }
    const type = typeof data.type === 'string' ? data.type : frame.event;
    switch (type) {
      case 'message_start':
        return this.start(obj(data.message));
      case 'content_block_start':
        return this.blockStart(Number(data.index), obj(data.content_block));
      case 'content_block_delta':
        return this.blockDelta(Number(data.index), obj(data.delta));
      case 'content_block_stop':
        return this.blockStop(Number(data.index));
      case 'message_delta':
        this.addUsage(obj(data.usage));
        this.finished = true;
        return [this.chunk({}, finishReason(obj(data.delta).stop_reason))];
      case 'message_stop':
        return this.stop();
      case 'error':
        return [{ type: 'error', error: anthropicStreamError(data, this.d) }];
      default:
        return []; // ping, and event types added later (Anthropic's versioning policy allows new ones)
    }
  }

  private start(message: Json): StreamEvent[] {
    if (typeof message.id === 'string') this.id = message.id;
    if (typeof message.model === 'string') this.model = message.model;
    this.addUsage(obj(message.usage));
    return [this.chunk({ role: 'assistant', content: '' })];
  }

  private blockStart(index: number, block: Json): StreamEvent[] {
    if (block.type === 'tool_use') {
      const call = this.tools.size;
      this.tools.set(index, { call, sentArguments: false });
      const fn = { name: String(block.name), arguments: '' };
      return [this.chunk({ tool_calls: [{ index: call, id: String(block.id), type: 'function', function: fn }] })];
    }
    if (block.type === 'text' && typeof block.text === 'string' && block.text !== '') return [this.chunk({ content: block.text })];
    return [];
  }

  private blockDelta(index: number, delta: Json): StreamEvent[] {
    if (delta.type === 'text_delta' && typeof delta.text === 'string' && delta.text !== '') {
      return [this.chunk({ content: delta.text })];
    }
    if (delta.type === 'input_json_delta' && typeof delta.partial_json === 'string' && delta.partial_json !== '') {
      const tool = this.tools.get(index);
      if (!tool) return [];
      tool.sentArguments = true;
      return [this.argumentsChunk(tool.call, delta.partial_json)];
    }
    return [];
  }

  private blockStop(index: number): StreamEvent[] {
    const tool = this.tools.get(index);
    // A tool called without input streams no JSON at all; OpenAI clients will JSON.parse the arguments.
    if (!tool || tool.sentArguments) return [];
    tool.sentArguments = true;
    return [this.argumentsChunk(tool.call, '{}')];
  }

  private stop(): StreamEvent[] {
    const out: StreamEvent[] = [];
    if (!this.finished) out.push(this.chunk({}, 'stop'));
    this.finished = true;
    const usage = { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: canonicalUsage(this.usage) };
    out.push({ type: 'chunk', data: JSON.stringify(usage) }, { type: 'done' });
    return out;
  }

  /** message_start carries input tokens; message_delta the cumulative output (and, lately, input) tokens. */
  private addUsage(u: Json): void {
    for (const key of ['input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'] as const) {
      if (typeof u[key] === 'number') this.usage[key] = u[key];
    }
  }

  private argumentsChunk(call: number, piece: string): StreamEvent {
    return this.chunk({ tool_calls: [{ index: call, function: { arguments: piece } }] });
  }

  private chunk(delta: Json, finish: string | null = null): StreamEvent {
    const chunk = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
    return { type: 'chunk', data: JSON.stringify(chunk) };
  }
}

function obj(v: unknown): Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
}
