import type { GatewayError } from '../../../errors.js';
import { Secrets } from '../../../secrets.js';

/**
 * Canonical (OpenAI) answers and GatewayErrors in Anthropic's Messages shapes: the message object, stop
 * reasons, usage and the error body. Pure; shared by the JSON and the streaming paths.
 */

type Json = Record<string, unknown>;

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

/** Anthropic's error type for the status the gateway answers with. */
export function anthropicErrorType(err: GatewayError): AnthropicErrorType {
  const s = err.status;
  if (s === 401) return 'authentication_error';
  if (s === 403) return 'permission_error';
  if (s === 404) return 'not_found_error';
  if (s === 413) return 'request_too_large';
  if (s === 429) return 'rate_limit_error';
  if (s === 529 || s === 503) return 'overloaded_error';
  if (s === 504) return 'timeout_error';
  if (s >= 500) return 'api_error';
  return 'invalid_request_error';
}

/**
 * `{"type":"error","error":{"type","message"},"request_id"}`, as the Anthropic API answers. Rebuilt from known
 * fields; the message, scrubbed where upstream text entered it, shows nothing key-shaped either (second fence).
 */
export function anthropicErrorJson(err: GatewayError, requestId?: string): string {
  return JSON.stringify({
    type: 'error',
    error: { type: anthropicErrorType(err), message: Secrets.none.scrubUntrusted(err.message) },
    request_id: requestId ?? null,
  });
}

export function anthropicErrorHeaders(err: GatewayError, requestId?: string): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (requestId) headers['request-id'] = requestId;
  if (err.retryAfterMs !== undefined && (err.status === 429 || err.status === 503 || err.status === 529)) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
    // The Anthropic SDKs read this first: the exact wait, not rounded up to whole seconds.
    headers['retry-after-ms'] = String(Math.max(0, Math.round(err.retryAfterMs)));
  }
  return headers;
}

export type StopReason = 'end_turn' | 'max_tokens' | 'tool_use' | 'refusal';

/** OpenAI's finish_reason → Anthropic's stop_reason. `stop` cannot tell a stop sequence from the end of a turn. */
export function stopReason(finish: unknown): StopReason {
  switch (finish) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return 'end_turn';
  }
}

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number;
}

/** OpenAI counts cached prompt tokens inside prompt_tokens; Anthropic counts them apart from input_tokens. */
export function usageFrom(usage: Json | undefined): AnthropicUsage {
  const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const details = usage?.prompt_tokens_details as Json | undefined;
  const cached = details && typeof details.cached_tokens === 'number' ? details.cached_tokens : undefined;
  const out: AnthropicUsage = {
    input_tokens: Math.max(0, count(usage?.prompt_tokens) - (cached ?? 0)),
    output_tokens: count(usage?.completion_tokens),
  };
  if (cached !== undefined) out.cache_read_input_tokens = cached;
  return out;
}

/** Anthropic message ids start with `msg_`; an upstream's own id is kept after it. */
export function messageId(id: unknown): string {
  if (typeof id !== 'string' || id === '') return `msg_${Date.now().toString(36)}`;
  return id.startsWith('msg_') ? id : `msg_${id}`;
}

/**
 * The `input` of a tool_use block must be an object. Arguments that are not a JSON object (a model's
 * malformed output) are kept as text rather than dropped, so the client can see what the model said.
 */
export function toolInput(args: unknown): Json {
  if (typeof args !== 'string' || args.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(args);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Json;
  } catch {
    // fall through
  }
  return { _raw_arguments: args };
}

interface CanonicalMessage {
  content?: unknown;
  refusal?: unknown;
  tool_calls?: unknown;
}

interface CanonicalToolCall {
  id?: unknown;
  function?: { name?: unknown; arguments?: unknown };
}

/** A canonical `chat.completion` (JSON text) → an Anthropic Message (JSON text). */
export function renderAnthropicMessage(canonical: string): string {
  const completion = JSON.parse(canonical) as Json;
  const choice = (Array.isArray(completion.choices) ? completion.choices[0] : undefined) as Json | undefined;
  const message = (choice?.message ?? {}) as CanonicalMessage;
  const content: Json[] = [];
  const text = textOf(message.content);
  if (text !== '') content.push({ type: 'text', text });
  if (typeof message.refusal === 'string' && message.refusal !== '') content.push({ type: 'text', text: message.refusal });
  const calls = Array.isArray(message.tool_calls) ? (message.tool_calls as CanonicalToolCall[]) : [];
  calls.forEach((call, i) => {
    content.push({
      type: 'tool_use',
      id: typeof call.id === 'string' && call.id !== '' ? call.id : `toolu_${i}`,
      name: typeof call.function?.name === 'string' ? call.function.name : '',
      input: toolInput(call.function?.arguments),
    });
  });
  // Clients read `content[0].text`; an empty answer still gets an (empty) text block.
  if (content.length === 0) content.push({ type: 'text', text: '' });
  return JSON.stringify({
    id: messageId(completion.id),
    type: 'message',
    role: 'assistant',
    model: typeof completion.model === 'string' ? completion.model : '',
    content,
    stop_reason: stopReason(choice?.finish_reason),
    stop_sequence: null,
    usage: usageFrom(completion.usage as Json | undefined),
  });
}

/** Message content as text: a string, or the text of an array of parts. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => (p && typeof p === 'object' && typeof p.text === 'string' ? p.text : '')).join('');
}
