/**
 * Gemini `GenerateContentResponse` → OpenAI `chat.completion`, and the pieces the stream decoder shares:
 * parts → text and tool calls, finish reasons, usage.
 */
import { randomUUID } from 'node:crypto';
import { parseUpstreamJson, type ToolCall } from '../shared/response.js';
import { malformed } from '../shared/errors.js';
import { promptBlocked } from './errors.js';
import { THOUGHT_SEPARATOR } from './request.js';
import type { Deployment } from '../../types.js';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseJsonObject(text: string, d: Deployment): Json {
  const parsed = parseUpstreamJson(text, d);
  if (!isObject(parsed)) throw malformed(d, 'JSON that is not an object');
  return parsed;
}

/** A fresh id prefix per response, so tool call ids stay unique across the turns of a conversation. */
export function newIdPrefix(): string {
  return randomUUID().replace(/-/g, '').slice(0, 12);
}

const FINISH_REASONS: Record<string, string> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  BLOCKLIST: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
};

/** Gemini says STOP after a function call; OpenAI says tool_calls. Unknown reasons (OTHER, …) read as stop. */
export function finishReason(reason: unknown, hadToolCalls: boolean): string {
  const mapped = (typeof reason === 'string' && FINISH_REASONS[reason]) || 'stop';
  return hadToolCalls && mapped === 'stop' ? 'tool_calls' : mapped;
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/**
 * usageMetadata → OpenAI usage. Thinking tokens count as completion tokens (as OpenAI's reasoning tokens do),
 * so prompt + completion = total.
 */
export function toUsage(meta: unknown): Json {
  const u = isObject(meta) ? meta : {};
  const prompt = count(u.promptTokenCount) + count(u.toolUsePromptTokenCount);
  const thoughts = count(u.thoughtsTokenCount);
  const completion = count(u.candidatesTokenCount) + thoughts;
  const usage: Json = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: count(u.totalTokenCount) || prompt + completion };
  if (u.cachedContentTokenCount !== undefined) usage.prompt_tokens_details = { cached_tokens: count(u.cachedContentTokenCount) };
  if (thoughts > 0) usage.completion_tokens_details = { reasoning_tokens: thoughts };
  return usage;
}

/**
 * A candidate's parts: visible text (thought summaries left out) and function calls. `nextCall` numbers the
 * calls; a call's thought signature rides in its id (see THOUGHT_SEPARATOR).
 */
export function readParts(content: unknown, idPrefix: string, nextCall: () => number): { text: string; calls: ToolCall[] } {
  const parts = isObject(content) && Array.isArray(content.parts) ? content.parts : [];
  let text = '';
  const calls: ToolCall[] = [];
  for (const part of parts) {
    if (!isObject(part)) continue;
    if (typeof part.text === 'string' && part.thought !== true) text += part.text;
    const call = part.functionCall;
    if (isObject(call) && typeof call.name === 'string') {
      const signature = typeof part.thoughtSignature === 'string' ? `${THOUGHT_SEPARATOR}${part.thoughtSignature}` : '';
      calls.push({
        id: `call_${idPrefix}_${nextCall()}${signature}`,
        type: 'function',
        function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) },
      });
    }
  }
  return { text, calls };
}

export function candidatesOf(response: Json): Json[] {
  return Array.isArray(response.candidates) ? response.candidates.filter(isObject) : [];
}

/** A response without candidates whose prompt was blocked; undefined otherwise. */
export function blockedPrompt(response: Json): Json | undefined {
  const feedback = response.promptFeedback;
  return isObject(feedback) && typeof feedback.blockReason === 'string' ? feedback : undefined;
}

export function completionId(response: Json): string {
  return `chatcmpl-${typeof response.responseId === 'string' && response.responseId !== '' ? response.responseId : newIdPrefix()}`;
}

export function modelOf(response: Json, d: Deployment): string {
  return typeof response.modelVersion === 'string' && response.modelVersion !== '' ? response.modelVersion : d.model;
}

export function toChatCompletion(bodyText: string, d: Deployment): string {
  const response = parseJsonObject(bodyText, d);
  const candidates = candidatesOf(response);
  if (candidates.length === 0) {
    const blocked = blockedPrompt(response);
    throw blocked ? promptBlocked(blocked, d) : malformed(d, 'a response without candidates');
  }
  const prefix = newIdPrefix();
  let calls = 0;
  const choices = candidates.map((candidate, i) => {
    const { text, calls: toolCalls } = readParts(candidate.content, prefix, () => calls++);
    const hasCalls = toolCalls.length > 0;
    const message: Json = { role: 'assistant', content: text === '' && hasCalls ? null : text, refusal: null };
    if (hasCalls) message.tool_calls = toolCalls;
    return {
      index: typeof candidate.index === 'number' ? candidate.index : i,
      message,
      logprobs: null,
      finish_reason: finishReason(candidate.finishReason, hasCalls),
    };
  });
  return JSON.stringify({
    id: completionId(response),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: modelOf(response, d),
    choices,
    usage: toUsage(response.usageMetadata),
  });
}
