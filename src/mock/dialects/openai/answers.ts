/**
 * The OpenAI dialect of the mock: request checks, `chat.completion` / `chat.completion.chunk` / embeddings /
 * models bodies, and the `{"error":{...}}` shape. Pure: turns request bodies into `Reply`s.
 */
import { InvalidRequest } from '../route.js';
import {
  contentChars,
  contentText,
  continueReply,
  embeddingVector,
  estimateTokens,
  float32Base64,
  placeholderArguments,
  splitPieces,
  splitWords,
} from '../../answer.js';
import type { Fault } from '../../faults.js';
import type { FaultRenderer, Reply, StreamScript } from '../../deliver.js';

type Json = Record<string, unknown>;

export function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

const DEFAULT_CODES: Record<number, string> = { 401: 'invalid_api_key', 429: 'rate_limit_exceeded' };

/** The OpenAI error body as JSON text. */
export function errorBody(status: number, message: string, code?: string | null, param: string | null = null): string {
  const error = { message, type: errorType(status), param, code: code ?? DEFAULT_CODES[status] ?? null };
  return JSON.stringify({ error });
}

const STATUS_MESSAGES: Record<number, string> = {
  400: 'Invalid request.',
  401: 'Incorrect API key provided.',
  403: 'You are not allowed to perform this request.',
  404: 'The model does not exist or you do not have access to it.',
  408: 'The request timed out.',
  429: 'Rate limit reached for requests. Please try again later.',
  500: 'The server had an error while processing your request.',
  502: 'Bad gateway.',
  503: 'The server is overloaded or not ready yet.',
  504: 'Gateway timeout.',
};

const CODE_MESSAGES: Record<string, string> = {
  context_length_exceeded:
    "This model's maximum context length is 8192 tokens. However, your messages resulted in more tokens. " +
    'Please reduce the length of the messages.',
  content_filter:
    "The response was filtered due to the prompt triggering the content management policy. Please modify your prompt and retry.",
};

function faultMessage(status: number, code: string | undefined): string {
  const text = (code && CODE_MESSAGES[code]) ?? STATUS_MESSAGES[status] ?? `The request failed with status ${status}.`;
  return `${text} (lifeline mock: scripted fault)`;
}

export const openaiFaults: FaultRenderer = {
  faultError(fault: Fault): string {
    const status = fault.status ?? 500;
    const body = errorBody(status, faultMessage(status, fault.error_code), fault.error_code);
    return fault.error_fields ? JSON.stringify({ error: { ...JSON.parse(body).error, ...fault.error_fields } }) : body;
  },
};

function asObject(body: unknown): Json {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequest('The request body must be a JSON object.');
  }
  return body as Json;
}

function requireModel(body: Json): string {
  if (typeof body.model !== 'string' || body.model === '') {
    throw new InvalidRequest('You must provide a model parameter.', 'model');
  }
  return body.model;
}

// ---------------------------------------------------------------------------------------------------------
// Chat completions

interface ToolCall {
  name: string;
  arguments: string;
}

/** What the mock answers for a chat request, before any wire format. */
export interface ChatAnswer {
  /** The text, or null when the answer is a tool call. */
  text: string | null;
  /** Content deltas (text) or argument pieces (tool call); their concatenation is the whole. */
  deltas: string[];
  finishReason: 'stop' | 'length' | 'tool_calls';
  tool?: ToolCall;
}

function chooseTool(body: Json): ToolCall | null {
  const tools = Array.isArray(body.tools) ? body.tools : [];
  const functions = tools
    .filter((t): t is Json => !!t && typeof t === 'object' && (t as Json).type === 'function')
    .map((t) => t.function as Json | undefined)
    .filter((f): f is Json => !!f && typeof f.name === 'string');
  const choice = body.tool_choice;
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last = messages[messages.length - 1] as Json | undefined;
  if (functions.length === 0 || choice === 'none' || last?.role === 'tool') return null;
  // tool_choice {type:"function", function:{name}} forces that function; otherwise the first one.
  const forced = choice && typeof choice === 'object' ? ((choice as Json).function as Json | undefined)?.name : undefined;
  const fn = functions.find((f) => f.name === forced) ?? functions[0];
  return { name: fn.name as string, arguments: JSON.stringify(placeholderArguments(fn.parameters)) };
}

function maxTokens(body: Json): number | undefined {
  const limit = body.max_completion_tokens ?? body.max_tokens;
  return Number.isInteger(limit) && (limit as number) > 0 ? (limit as number) : undefined;
}

/**
 * The assistant prefill of a chat request: the text of a trailing `{role:'assistant', prefix:true}` message
 * (DeepSeek's and Mistral's flag), else null. A trailing assistant message without the flag is no prefill:
 * OpenAI answers anew.
 */
export function openaiPrefill(body: unknown): string | null {
  const messages = body && typeof body === 'object' ? (body as Json).messages : undefined;
  const last = Array.isArray(messages) ? (messages[messages.length - 1] as Json | null | undefined) : undefined;
  if (!last || typeof last !== 'object' || last.role !== 'assistant' || last.prefix !== true) return null;
  return contentText(last.content);
}

/**
 * Decides the answer: a tool call when tools apply, else `reply` — or its continuation after a prefill (see
 * `continueReply`) — one delta per word, cut to `max_tokens` deltas if set.
 */
export function chatAnswer(body: unknown, reply: string): ChatAnswer {
  const request = body && typeof body === 'object' ? (body as Json) : {};
  const tool = chooseTool(request);
  if (tool) return { text: null, deltas: splitPieces(tool.arguments), finishReason: 'tool_calls', tool };
  const text = continueReply(reply, openaiPrefill(request));
  const words = splitWords(text);
  const limit = maxTokens(request);
  if (limit !== undefined && limit < words.length) {
    const deltas = words.slice(0, limit);
    return { text: deltas.join(''), deltas, finishReason: 'length' };
  }
  return { text, deltas: words, finishReason: 'stop' };
}

function promptTokens(messages: unknown[]): number {
  let chars = 0;
  for (const m of messages) chars += contentChars((m as Json | null)?.content);
  return estimateTokens(chars);
}

export interface ChatContext {
  /** The request number: ids are `chatcmpl-mock-N`, `call_mock_N`. */
  n: number;
  reply: string;
}

/** Checks a chat request like the real API would, enough to catch a client (or gateway) sending nonsense. */
export function checkChat(body: unknown): { stream: boolean } {
  const request = asObject(body);
  requireModel(request);
  if (!Array.isArray(request.messages) || request.messages.length === 0) {
    throw new InvalidRequest("'messages' must be a non-empty array.", 'messages');
  }
  if (request.stream !== undefined && request.stream !== null && typeof request.stream !== 'boolean') {
    throw new InvalidRequest("'stream' must be a boolean.", 'stream');
  }
  if (request.tools !== undefined && !Array.isArray(request.tools)) {
    throw new InvalidRequest("'tools' must be an array.", 'tools');
  }
  return { stream: request.stream === true };
}

/** Builds the reply to a request that passed `checkChat`. */
export function chatReply(body: unknown, ctx: ChatContext): Reply {
  const request = body as Json;
  const answer = chatAnswer(request, ctx.reply);
  const id = `chatcmpl-mock-${ctx.n}`;
  const created = Math.floor(Date.now() / 1000);
  const model = request.model as string;
  const prompt = promptTokens(request.messages as unknown[]);
  const usage = { prompt_tokens: prompt, completion_tokens: answer.deltas.length, total_tokens: prompt + answer.deltas.length };
  const toolCall = answer.tool && { id: `call_mock_${ctx.n}`, type: 'function', function: answer.tool };

  if (request.stream !== true) {
    const message = toolCall
      ? { role: 'assistant', content: null, tool_calls: [toolCall], refusal: null, annotations: [] }
      : { role: 'assistant', content: answer.text, refusal: null, annotations: [] };
    const completion = {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: answer.finishReason }],
      usage,
      system_fingerprint: 'fp_mock',
    };
    return { kind: 'json', body: JSON.stringify(completion) };
  }

  const options = request.stream_options as Json | undefined;
  const includeUsage = options?.include_usage === true;
  const base = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_mock' };
  const chunk = (delta: Json, finishReason: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const first = toolCall
    ? chunk({
        role: 'assistant',
        content: null,
        tool_calls: [{ index: 0, id: toolCall.id, type: 'function', function: { name: toolCall.function.name, arguments: '' } }],
        refusal: null,
      })
    : chunk({ role: 'assistant', content: '', refusal: null });
  // Every content chunk is the same JSON but for its piece: rendered once and filled in (a stringify per chunk
  // cost the mock ~2 µs a chunk before its first write, ~50 µs more when the chunks also carry `usage: null`).
  const content = fillIn(
    sse(toolCall ? chunk({ tool_calls: [{ index: 0, function: { arguments: PIECE } }] }) : chunk({ content: PIECE })),
    answer.deltas,
  );
  const usageEvent = includeUsage ? sse({ ...base, choices: [], usage }) : undefined;
  const tail = [sse(chunk({}, answer.finishReason))];
  if (usageEvent) tail.push(usageEvent);
  tail.push('data: [DONE]\n\n');

  const script: StreamScript = {
    head: [sse(first)],
    content,
    tail,
    errorEvent: (fault) => {
      const code = fault.error_code ?? null;
      const message = `${(code && CODE_MESSAGES[code]) ?? 'The server had an error while processing your request.'} (lifeline mock: scripted fault)`;
      return sse({ error: { message, type: 'server_error', param: null, code, ...fault.error_fields } });
    },
    malformedEvent: `data: ${JSON.stringify(first).slice(0, 40)}\n\n`,
    ...(usageEvent ? { usageEvent } : {}),
  };
  return { kind: 'sse', script };
}

function sse(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

/** Marks where each piece goes in a chunk rendered once (see fillIn). */
export const PIECE = '\u0000lifeline-mock-piece\u0000';
const PIECE_JSON = JSON.stringify(PIECE);

/**
 * `template` (a chunk rendered once with PIECE) for each piece: byte for byte what rendering each chunk would give.
 * The piece is the chunk's last string (only `logprobs`, `finish_reason` and `usage`, all null, follow it), so the
 * last occurrence is the piece even if a request put the marker into the model name.
 */
export function fillIn(template: string, pieces: readonly string[]): string[] {
  const at = template.lastIndexOf(PIECE_JSON);
  const before = template.slice(0, at);
  const after = template.slice(at + PIECE_JSON.length);
  return pieces.map((piece) => before + JSON.stringify(piece) + after);
}

// ---------------------------------------------------------------------------------------------------------
// Embeddings and models

const MAX_DIMENSIONS = 8192;

/** Deterministic vectors from the input alone; honours `dimensions` (default 8) and `encoding_format`. */
export function embeddingsReply(body: unknown): Reply {
  const request = asObject(body);
  const model = requireModel(request);
  const input = request.input;
  const inputs: unknown[] = typeof input === 'string' ? [input] : Array.isArray(input) ? input : [];
  const isTokens = (v: unknown) => Array.isArray(v) && v.every((t) => Number.isInteger(t));
  // A flat array of integers is one tokenized input, not many.
  const items = inputs.length > 0 && inputs.every((v) => Number.isInteger(v)) ? [inputs] : inputs;
  if (items.length === 0 || !items.every((v) => typeof v === 'string' || isTokens(v))) {
    throw new InvalidRequest("'input' must be a string, an array of strings, or token arrays.", 'input');
  }
  const dims = request.dimensions ?? 8;
  if (!Number.isInteger(dims) || (dims as number) < 1 || (dims as number) > MAX_DIMENSIONS) {
    throw new InvalidRequest(`'dimensions' must be an integer from 1 to ${MAX_DIMENSIONS}.`, 'dimensions');
  }
  const format = request.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') {
    throw new InvalidRequest("'encoding_format' must be 'float' or 'base64'.", 'encoding_format');
  }
  let tokens = 0;
  const data = items.map((item, index) => {
    tokens += typeof item === 'string' ? estimateTokens(item.length) : (item as unknown[]).length;
    const vector = embeddingVector(item, dims as number);
    return { object: 'embedding', index, embedding: format === 'base64' ? float32Base64(vector) : vector };
  });
  const response = { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } };
  return { kind: 'json', body: JSON.stringify(response) };
}

export const MOCK_MODELS = ['mock-model', 'gpt-4o', 'gpt-4o-mini', 'text-embedding-3-small'];

function modelObject(id: string) {
  return { id, object: 'model', created: 1700000000, owned_by: 'lifeline-mock' };
}

export function modelsBody(): string {
  return JSON.stringify({ object: 'list', data: MOCK_MODELS.map(modelObject) });
}

/** Any id is "available": the mock answers every model. */
export function modelBody(id: string): string {
  return JSON.stringify(modelObject(id));
}
