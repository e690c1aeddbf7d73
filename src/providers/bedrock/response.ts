/** Bedrock Converse response → OpenAI `chat.completion` JSON text. Pure, apart from a fresh completion id. */
import { randomUUID } from 'node:crypto';
import type { Deployment } from '../../types.js';
import { malformed } from '../shared/errors.js';
import { parseUpstreamJson, type ToolCall } from '../shared/response.js';

type Json = Record<string, unknown>;

const FINISH_REASONS: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  guardrail_intervened: 'content_filter',
  content_filtered: 'content_filter',
};

/** An unknown stop reason still ends the turn: `stop` is the honest default. */
export function finishReason(stopReason: unknown): string {
  return (typeof stopReason === 'string' && FINISH_REASONS[stopReason]) || 'stop';
}

export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
}

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/**
 * Bedrock counts cache reads and writes apart from `inputTokens`; OpenAI's `prompt_tokens` includes cached
 * tokens, so they are added back (and `cached_tokens` can never exceed `prompt_tokens`).
 */
export function toOpenAIUsage(usage: unknown): OpenAIUsage | undefined {
  if (!usage || typeof usage !== 'object') return undefined;
  const u = usage as Json;
  const cacheRead = count(u.cacheReadInputTokens);
  const prompt = count(u.inputTokens) + cacheRead + count(u.cacheWriteInputTokens);
  const completion = count(u.outputTokens);
  const out: OpenAIUsage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: typeof u.totalTokens === 'number' ? Math.max(u.totalTokens, prompt + completion) : prompt + completion,
  };
  if (cacheRead > 0) out.prompt_tokens_details = { cached_tokens: cacheRead };
  return out;
}

export function completionId(): string {
  return `chatcmpl-${randomUUID().replaceAll('-', '')}`;
}



export function parseConverseResponse(bodyText: string, d: Deployment): string {
  const parsed = parseUpstreamJson(bodyText, d);
  const message = ((parsed as Json | null)?.output as Json | undefined)?.message as Json | undefined;
  if (!message || !Array.isArray(message.content)) throw malformed(d, 'JSON without "output.message.content"');
  const response = parsed as Json;

  let text = '';
  let reasoning = '';
  const toolCalls: ToolCall[] = [];
  for (const raw of message.content as unknown[]) {
    const block = (raw ?? {}) as Json;
    if (typeof block.text === 'string') text += block.text;
    const toolUse = block.toolUse as Json | undefined;
    if (toolUse) {
      toolCalls.push({
        id: String(toolUse.toolUseId ?? ''),
        type: 'function',
        function: { name: String(toolUse.name ?? ''), arguments: JSON.stringify(toolUse.input ?? {}) },
      });
    }
    const reasoningText = ((block.reasoningContent as Json | undefined)?.reasoningText as Json | undefined)?.text;
    if (typeof reasoningText === 'string') reasoning += reasoningText;
  }

  const out: Json = { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text, refusal: null };
  if (toolCalls.length > 0) out.tool_calls = toolCalls;
  if (reasoning !== '') out.reasoning_content = reasoning;
  const completion: Json = {
    id: completionId(),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: d.model,
    choices: [{ index: 0, message: out, logprobs: null, finish_reason: finishReason(response.stopReason) }],
  };
  const usage = toOpenAIUsage(response.usage);
  if (usage) completion.usage = usage;
  return JSON.stringify(completion);
}
