/**
 * The Anthropic dialect of the mock: `message` bodies, the named-event stream (message_start,
 * content_block_start/delta/stop, ping, message_delta, message_stop, error) and the
 * `{"type":"error","error":{"type","message"}}` shape. It answers what the OpenAI dialect answers: the same
 * text, one delta per word, or a tool call with placeholder input — except that any trailing assistant message
 * is a prefill, continued. Pure: turns request bodies into `Reply`s.
 */
import { contentChars, contentText, continueReply, estimateTokens, placeholderArguments, splitPieces, splitWords } from '../../answer.js';
import type { Fault } from '../../faults.js';
import type { FaultRenderer, Reply, StreamScript } from '../../deliver.js';

type Json = Record<string, unknown>;

const TYPE_OF_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};
const TYPES = new Set(Object.values(TYPE_OF_STATUS));

/** Anthropic's error type for a status; a `code` that is itself an Anthropic type wins. */
export function anthropicErrorType(status: number, code?: string | null): string {
  if (code && TYPES.has(code)) return code;
  return TYPE_OF_STATUS[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

/** The Anthropic error body as JSON text (the `errorBody` of this dialect's routes). */
export function anthropicErrorBody(status: number, message: string, code?: string | null): string {
  return JSON.stringify({ type: 'error', error: { type: anthropicErrorType(status, code), message } });
}

const MESSAGES: Record<string, string> = {
  invalid_request_error: 'Your request is invalid.',
  authentication_error: 'invalid x-api-key',
  billing_error: 'Your credit balance is too low to access the Anthropic API.',
  permission_error: 'Your API key does not have permission to use the specified resource.',
  not_found_error: 'model: not found',
  request_too_large: 'Request exceeds the maximum allowed number of bytes.',
  rate_limit_error: 'This request would exceed the rate limit for your organization. Please try again later.',
  api_error: 'Internal server error',
  timeout_error: 'Request timed out',
  overloaded_error: 'Overloaded',
};

function faultMessage(type: string, code: string | undefined): string {
  const text = code === 'context_length_exceeded' ? 'prompt is too long: 212345 tokens > 200000 maximum' : (MESSAGES[type] ?? 'Error');
  return `${text} (lifeline mock: scripted fault)`;
}

export const anthropicFaults: FaultRenderer = {
  faultError(fault: Fault): string {
    const status = fault.status ?? 500;
    const type = anthropicErrorType(status, fault.error_code);
    const body = anthropicErrorBody(status, faultMessage(type, fault.error_code), type);
    return fault.error_fields ? JSON.stringify({ type: 'error', error: { ...JSON.parse(body).error, ...fault.error_fields } }) : body;
  },
};

// ---------------------------------------------------------------------------------------------------------
// The answer

interface ToolUse {
  name: string;
  input: Json;
}

export interface MessagesAnswer {
  /** The text, or null when the answer is a tool call. */
  text: string | null;
  /** Text deltas (one per word) or pieces of the tool input's JSON; their concatenation is the whole. */
  deltas: string[];
  stopReason: 'end_turn' | 'max_tokens' | 'tool_use';
  tool?: ToolUse;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The tool to call, like the OpenAI dialect: the forced one, else the first; none after a tool result. */
function chooseTool(request: Json): ToolUse | null {
  const tools = (Array.isArray(request.tools) ? request.tools : []).filter((t): t is Json => isObject(t) && typeof t.name === 'string');
  const choice = isObject(request.tool_choice) ? request.tool_choice : {};
  const messages = Array.isArray(request.messages) ? request.messages : [];
  const last = messages[messages.length - 1];
  const answersTool = isObject(last) && Array.isArray(last.content) && last.content.some((b) => isObject(b) && b.type === 'tool_result');
  if (tools.length === 0 || choice.type === 'none' || answersTool) return null;
  const tool = tools.find((t) => choice.type === 'tool' && t.name === choice.name) ?? tools[0]!;
  return { name: tool.name as string, input: placeholderArguments(tool.input_schema) };
}

/** The assistant prefill of a Messages request: any trailing assistant message's text (string or text blocks), else null. */
export function anthropicPrefill(body: unknown): string | null {
  const messages = isObject(body) ? body.messages : undefined;
  const last = Array.isArray(messages) ? messages[messages.length - 1] : undefined;
  return isObject(last) && last.role === 'assistant' ? contentText(last.content) : null;
}

/**
 * The answer to a Messages request: a tool call when tools apply, else `reply` — or its continuation after a
 * prefill (see `continueReply`) — cut to `max_tokens` words.
 */
export function messagesAnswer(body: unknown, reply: string): MessagesAnswer {
  const request = isObject(body) ? body : {};
  const tool = chooseTool(request);
  if (tool) return { text: null, deltas: splitPieces(JSON.stringify(tool.input)), stopReason: 'tool_use', tool };
  const text = continueReply(reply, anthropicPrefill(request));
  const words = splitWords(text);
  const limit = request.max_tokens;
  if (typeof limit === 'number' && limit < words.length) {
    const deltas = words.slice(0, limit);
    return { text: deltas.join(''), deltas, stopReason: 'max_tokens' };
  }
  return { text, deltas: words, stopReason: 'end_turn' };
}

function inputTokens(request: Json): number {
  let chars = typeof request.system === 'string' ? request.system.length : contentChars(request.system);
  for (const m of request.messages as unknown[]) chars += contentChars(isObject(m) ? m.content : undefined);
  return estimateTokens(chars);
}

function event(type: string, data: Json): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

/** Builds the reply to a request that passed `checkMessages`. */
export function messagesReply(body: unknown, ctx: { n: number; reply: string }): Reply {
  const request = body as Json;
  const answer = messagesAnswer(request, ctx.reply);
  const id = `msg_mock_${ctx.n}`;
  const model = request.model as string;
  const input = inputTokens(request);
  const cache = { cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  const usage = { input_tokens: input, output_tokens: answer.deltas.length, ...cache };
  const toolId = `toolu_mock_${ctx.n}`;

  if (request.stream !== true) {
    const content = answer.tool
      ? [{ type: 'tool_use', id: toolId, name: answer.tool.name, input: answer.tool.input }]
      : [{ type: 'text', text: answer.text }];
    const message = { id, type: 'message', role: 'assistant', model, content, stop_reason: answer.stopReason, stop_sequence: null, usage };
    return { kind: 'json', body: JSON.stringify(message) };
  }

  const start = { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } };
  const block = answer.tool ? { type: 'tool_use', id: toolId, name: answer.tool.name, input: {} } : { type: 'text', text: '' };
  const script: StreamScript = {
    head: [event('message_start', { message: start }), event('content_block_start', { index: 0, content_block: block }), event('ping', {})],
    content: answer.deltas.map((piece) =>
      event('content_block_delta', {
        index: 0,
        delta: answer.tool ? { type: 'input_json_delta', partial_json: piece } : { type: 'text_delta', text: piece },
      }),
    ),
    tail: [
      event('content_block_stop', { index: 0 }),
      event('message_delta', { delta: { stop_reason: answer.stopReason, stop_sequence: null }, usage: { output_tokens: answer.deltas.length } }),
      event('message_stop', {}),
    ],
    errorEvent: (fault) => {
      // Mid-stream, Anthropic's usual failure is an overload; an error_code that names a type picks another.
      const type = anthropicErrorType(529, fault.error_code);
      return event('error', { error: { type, message: faultMessage(type, fault.error_code), ...fault.error_fields } });
    },
    malformedEvent: `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: start }).slice(0, 40)}\n\n`,
  };
  return { kind: 'sse', script };
}

/** The mock's Anthropic models, for `GET /v1/models`. */
const ANTHROPIC_MODELS = ['claude-mock', 'claude-sonnet-4-5'];

/** `GET /v1/models` in Anthropic's shape: `{ data: [{ type: 'model', id, display_name, created_at }], has_more, first_id, last_id }`. */
export function anthropicModelsBody(): string {
  const data = ANTHROPIC_MODELS.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-01-01T00:00:00Z' }));
  return JSON.stringify({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
}
