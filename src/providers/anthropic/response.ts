
import type { Deployment } from '../../types.js';
import { malformed } from '../shared/errors.js';
import { parseUpstreamJson, type ToolCall } from '../shared/response.js';

type Json = Record<string, unknown>;

const FINISH_REASONS: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop', // a server tool paused the turn; for a Chat Completions client the turn is over
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

/** OpenAI's finish_reason for an Anthropic stop_reason; `stop` for one this code does not know yet. */
export function finishReason(stopReason: unknown): string {
  return (typeof stopReason === 'string' && FINISH_REASONS[stopReason]) || 'stop';
}

/** Anthropic's fields that count tokens; any may be absent or null. */
export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

const count = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0);

/**
 * OpenAI usage: Anthropic's input_tokens excludes cached tokens, OpenAI's prompt_tokens includes them, so
 * cache reads and writes are added back; cache reads are also OpenAI's `cached_tokens`.
 */
export function canonicalUsage(u: AnthropicUsage | undefined): Json {
  const cacheRead = count(u?.cache_read_input_tokens);
  const prompt = count(u?.input_tokens) + cacheRead + count(u?.cache_creation_input_tokens);
  const completion = count(u?.output_tokens);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cacheRead },
  };
}



/** Validates an Anthropic message and returns it as OpenAI `chat.completion` JSON text. */
export function parseAnthropicResponse(bodyText: string, d: Deployment): string {
  const msg = parseUpstreamJson(bodyText, d) as Json;
  if (typeof msg !== 'object' || msg === null || !Array.isArray(msg.content)) {
    throw malformed(d, 'JSON without a "content" array');
  }
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  for (const block of msg.content as Json[]) {
    if (block?.type === 'text' && typeof block.text === 'string') texts.push(block.text);
    else if (block?.type === 'tool_use') {
      const args = JSON.stringify(block.input ?? {});
      toolCalls.push({ id: String(block.id), type: 'function', function: { name: String(block.name), arguments: args } });
    }
    // thinking, redacted_thinking and server-tool blocks have no place in a Chat Completions message.
  }
  const message: Json = { role: 'assistant', content: texts.length > 0 ? texts.join('') : null, refusal: null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const completion = {
    id: typeof msg.id === 'string' ? msg.id : `msg-${Date.now()}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: typeof msg.model === 'string' ? msg.model : d.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(msg.stop_reason) }],
    usage: canonicalUsage(msg.usage as AnthropicUsage | undefined),
  };
  return JSON.stringify(completion);
}
