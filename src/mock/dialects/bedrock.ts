/**
 * The Bedrock dialect of the mock: Converse (`POST /model/{id}/converse`, JSON) and ConverseStream
 * (`/converse-stream`, AWS event-stream binary frames from the provider's own codec). Errors are AWS-shaped:
 * `{"message": …}` with the type in `x-amzn-errortype`. Signatures are recorded (the request log keeps every
 * header), not verified. Pure: turns request bodies into `Reply`s; the answer itself comes from `chatAnswer`.
 */
import { encodeEventStreamMessage, encodeEventStreamPrelude } from '../../providers/bedrock/eventstream.js';
import { contentText, estimateTokens } from '../answer.js';
import { type DialectRoute, InvalidRequest } from './route.js';
import type { Fault } from '../faults.js';
import { type ChatAnswer, chatAnswer } from './openai/answers.js';
import type { FaultRenderer, Reply, StreamScript } from '../deliver.js';

type Json = Record<string, unknown>;

const EVENT_STREAM = 'application/vnd.amazon.eventstream';
const SUFFIX = ' (lifeline mock: scripted fault)';

interface AwsError {
  type: string;
  message: string;
}

const BY_STATUS: Record<number, AwsError> = {
  400: { type: 'ValidationException', message: 'The provided request is not valid.' },
  401: { type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' },
  403: { type: 'AccessDeniedException', message: "You don't have access to the model with the specified model ID." },
  404: { type: 'ResourceNotFoundException', message: 'The requested resource could not be found.' },
  408: { type: 'ModelTimeoutException', message: 'The model took too long to process the request.' },
  424: { type: 'ModelErrorException', message: 'The model returned an error while processing the request.' },
  429: { type: 'ThrottlingException', message: 'Too many requests, please wait before trying again.' },
  500: { type: 'InternalServerException', message: 'The server encountered an internal error.' },
  503: { type: 'ServiceUnavailableException', message: 'The service is temporarily unavailable. Try again later.' },
};

/** Fault `error_code`s from the OpenAI vocabulary, in Bedrock's words; an `…Exception` code is taken as is. */
const BY_CODE: Record<string, AwsError> = {
  context_length_exceeded: { type: 'ValidationException', message: 'Input is too long for requested model.' },
  rate_limit_exceeded: BY_STATUS[429]!,
};

function awsError(status: number, code?: string | null): AwsError {
  if (code && /Exception$/.test(code)) return { type: code.charAt(0).toUpperCase() + code.slice(1), message: `${code} raised.` };
  if (code && BY_CODE[code]) return BY_CODE[code];
  return BY_STATUS[status] ?? (status >= 500 ? BY_STATUS[500]! : BY_STATUS[400]!);
}

/**
 * The body of an AWS error. Real Bedrock names the type only in the `x-amzn-errortype` header; the mock also
 * puts it in `__type` (restJson1's fallback) because the dialect seam gives validation errors no headers.
 */
export function bedrockErrorBody(status: number, message: string, code?: string | null): string {
  return JSON.stringify({ message, __type: awsError(status, code && /Exception$/.test(code) ? code : null).type });
}

export const bedrockFaults: FaultRenderer = {
  faultError(fault: Fault): string {
    const status = fault.status ?? 500;
    const error = awsError(status, fault.error_code);
    // The fault engine writes `fault.headers` after rendering the body; scripted headers still win.
    fault.headers = { 'x-amzn-errortype': `${error.type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, ...fault.headers };
    return JSON.stringify({ message: `${error.message}${SUFFIX}`, __type: error.type });
  },
};

// ---------------------------------------------------------------------------------------------------------
// Validation, as Bedrock words it

function invalid(message: string): InvalidRequest {
  return new InvalidRequest(message, null, 400);
}

function checkBlock(block: unknown, where: string): void {
  if (!block || typeof block !== 'object') throw invalid(`The ContentBlock object at ${where} is not valid.`);
  const b = block as Json;
  if ('text' in b && (typeof b.text !== 'string' || b.text.trim() === '')) {
    throw invalid(`The text field in the ContentBlock object at ${where} is blank. Add text to the text field, and try again.`);
  }
}

/** Checks a Converse request like Bedrock would; returns the messages for the answer. */
export function checkConverse(body: unknown): Json[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('The request body must be a JSON object.');
  const request = body as Json;
  const messages = request.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw invalid('1 validation error detected: Value at \'messages\' failed to satisfy constraint: Member must not be null');
  }
  let previous: unknown;
  let usesTools = false;
  messages.forEach((raw, i) => {
    const m = (raw ?? {}) as Json;
    if (m.role !== 'user' && m.role !== 'assistant') throw invalid(`messages.${i}.role must be user or assistant.`);
    if (i === 0 && m.role !== 'user') throw invalid('A conversation must start with a user message. Try again with a conversation that starts with a user message.');
    if (m.role === previous) throw invalid('A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.');
    previous = m.role;
    if (!Array.isArray(m.content) || m.content.length === 0) throw invalid(`messages.${i}.content must be a non-empty array.`);
    m.content.forEach((block, j) => {
      checkBlock(block, `messages.${i}.content.${j}`);
      if ('toolUse' in (block as Json) || 'toolResult' in (block as Json)) usesTools = true;
    });
  });
  const tools = (request.toolConfig as Json | undefined)?.tools;
  if (request.toolConfig !== undefined && (!Array.isArray(tools) || tools.some((t) => typeof (t as Json)?.toolSpec !== 'object'))) {
    throw invalid('toolConfig.tools must be an array of toolSpec objects.');
  }
  if (usesTools && request.toolConfig === undefined) {
    throw invalid('The toolConfig field must be defined when using toolUse and toolResult content blocks.');
  }
  const maxTokens = (request.inferenceConfig as Json | undefined)?.maxTokens;
  if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && (maxTokens as number) > 0)) {
    throw invalid('inferenceConfig.maxTokens must be a positive integer.');
  }
  return messages as Json[];
}

// ---------------------------------------------------------------------------------------------------------
// Replies

/**
 * The request as `chatAnswer` reads it (OpenAI-shaped), so every dialect gives the same answer. A trailing
 * assistant message is a prefill (Claude on Bedrock continues it): it becomes an OpenAI `prefix: true` message.
 * Tolerant of unchecked bodies, for `MockServer.answerFor`.
 */
function openAIView(request: Json): Json {
  const messages = Array.isArray(request.messages) ? (request.messages as unknown[]) : [];
  const config = (request.toolConfig ?? {}) as Json;
  const tools = (Array.isArray(config.tools) ? config.tools : []).map((t) => {
    const spec = ((t as Json).toolSpec ?? {}) as Json;
    return { type: 'function', function: { name: spec.name, parameters: (spec.inputSchema as Json | undefined)?.json } };
  });
  const forced = ((config.toolChoice as Json | undefined)?.tool as Json | undefined)?.name;
  const last = (messages[messages.length - 1] ?? {}) as Json;
  const blocks = Array.isArray(last.content) ? (last.content as unknown[]) : [];
  const answersTool = blocks.some((b) => !!b && typeof b === 'object' && 'toolResult' in b);
  const prefill = last.role === 'assistant' ? [{ role: 'assistant', content: contentText(blocks), prefix: true }] : [];
  return {
    messages: [{ role: answersTool ? 'tool' : 'user' }, ...prefill],
    tools,
    ...(typeof forced === 'string' ? { tool_choice: { type: 'function', function: { name: forced } } } : {}),
    max_tokens: (request.inferenceConfig as Json | undefined)?.maxTokens,
  };
}

/** What the mock answers a Converse request (text with any prefill continued, or a tool call), before any wire format. */
export function converseAnswer(body: unknown, reply: string): ChatAnswer {
  return chatAnswer(openAIView(body && typeof body === 'object' ? (body as Json) : {}), reply);
}

function promptTokens(messages: Json[]): number {
  let chars = 0;
  for (const m of messages) {
    for (const b of m.content as Json[]) chars += typeof b.text === 'string' ? b.text.length : JSON.stringify(b).length;
  }
  return estimateTokens(chars);
}

const STOP_REASONS = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use' } as const;

function event(type: string, payload: Json): Buffer {
  // Bedrock pads payloads with a `p` field (against length side channels); clients must ignore it.
  return encodeEventStreamMessage(
    { ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' },
    JSON.stringify({ ...payload, p: 'abcdefghijkl' }),
  );
}

function exceptionFrame(fault: Fault): Buffer {
  const code = fault.error_code;
  const error = code && (/Exception$/.test(code) || BY_CODE[code])
    ? awsError(500, code)
    : { type: 'ModelStreamErrorException', message: 'The model stream encountered an error.' };
  const type = error.type.charAt(0).toLowerCase() + error.type.slice(1);
  return encodeEventStreamMessage(
    { ':exception-type': type, ':content-type': 'application/json', ':message-type': 'exception' },
    JSON.stringify({ message: `${error.message}${SUFFIX}` }),
  );
}

export function converseReply(body: unknown, stream: boolean, ctx: { n: number; reply: string }): Reply {
  const request = body as Json;
  const messages = checkConverse(body);
  const answer = converseAnswer(request, ctx.reply);
  const prompt = promptTokens(messages);
  const usage = { inputTokens: prompt, outputTokens: answer.deltas.length, totalTokens: prompt + answer.deltas.length };
  const stopReason = STOP_REASONS[answer.finishReason];
  const tool = answer.tool && { toolUseId: `tooluse_mock_${ctx.n}`, name: answer.tool.name };

  if (!stream) {
    const content = tool ? [{ toolUse: { ...tool, input: JSON.parse(answer.tool!.arguments) } }] : [{ text: answer.text }];
    const response = { output: { message: { role: 'assistant', content } }, stopReason, usage, metrics: { latencyMs: 1 } };
    return { kind: 'json', body: JSON.stringify(response) };
  }

  const start = event('messageStart', { role: 'assistant' });
  const script: StreamScript = {
    contentType: EVENT_STREAM,
    head: tool ? [start, event('contentBlockStart', { contentBlockIndex: 0, start: { toolUse: tool } })] : [start],
    content: answer.deltas.map((piece) =>
      event('contentBlockDelta', { contentBlockIndex: 0, delta: tool ? { toolUse: { input: piece } } : { text: piece } }),
    ),
    tail: [
      event('contentBlockStop', { contentBlockIndex: 0 }),
      event('messageStop', { stopReason }),
      event('metadata', { usage, metrics: { latencyMs: 1 } }),
    ],
    errorEvent: exceptionFrame,
    malformedEvent: encodeEventStreamMessage(
      { ':event-type': 'messageStart', ':content-type': 'application/json', ':message-type': 'event' },
      '{"role":"assis',
    ),
    invalidEvent: (_i, data) =>
      encodeEventStreamMessage({ ':event-type': 'contentBlockDelta', ':content-type': 'application/json', ':message-type': 'event' }, data),
    // A prelude that claims the N bytes sent and the message CRC after them, which never comes.
    longEventStart: (bytes) => encodeEventStreamPrelude(Math.min(bytes + 4, 0xffffffff), 0),
  };
  return { kind: 'sse', script };
}

export const bedrockRoutes: DialectRoute[] = [
  {
    kind: 'model',
    method: 'POST',
    path: /^\/model\/([^/]+)\/(converse|converse-stream)$/,
    errorBody: bedrockErrorBody,
    faults: bedrockFaults,
    responseHeaders: (ctx) => ({ 'x-amzn-requestid': `mock-amzn-${ctx.n}` }),
    handle(body, ctx) {
      const stream = ctx.match[2] === 'converse-stream';
      return { stream, reply: converseReply(body, stream, ctx) };
    },
  },
];
