/**
 * The Gemini dialect of the mock: `GenerateContentResponse` bodies (whole, as SSE events one word each, or as
 * the JSON array `streamGenerateContent` returns without `alt=sse`), `batchEmbedContents` vectors, and Google's
 * `{"error":{"code","message","status","details"}}` shape for validation errors and scripted faults. Pure.
 */
import {
  embeddingVector,
  estimateTokens,
  placeholderArguments,
  splitWords,
} from '../../answer.js';
import type { Fault } from '../../faults.js';
import { checkBatchEmbed, field } from './check.js';
import type { FaultRenderer, Reply, StreamScript } from '../../deliver.js';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------------------
// Errors

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** The gRPC status name for an HTTP status; a `code` that already is one (`RESOURCE_EXHAUSTED`) wins. */
function statusName(status: number, code?: string | null): string {
  if (code && /^[A-Z_]+$/.test(code) && Object.values(STATUS_NAMES).includes(code)) return code;
  return STATUS_NAMES[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
}

/** The HTTP status of a gRPC status name (`UNAVAILABLE` → 503), for error events named by `error_code`. */
function statusOf(code: string | undefined): number | undefined {
  const entry = Object.entries(STATUS_NAMES).find(([, name]) => name === code);
  return entry ? Number(entry[0]) : undefined;
}

/** Google's error body as JSON text; a `param` becomes a `google.rpc.BadRequest` field violation. */
export function geminiErrorBody(status: number, message: string, code?: string | null, param: string | null = null, details: Json[] = []): string {
  const all = param
    ? [...details, { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: param, description: message }] }]
    : details;
  return JSON.stringify({ error: { code: status, message, status: statusName(status, code), ...(all.length > 0 ? { details: all } : {}) } });
}

const FAULT_MESSAGES: Record<string, string> = {
  INVALID_ARGUMENT: 'Request contains an invalid argument.',
  UNAUTHENTICATED: 'Request had invalid authentication credentials.',
  PERMISSION_DENIED: 'The caller does not have permission.',
  NOT_FOUND: 'Requested entity was not found.',
  RESOURCE_EXHAUSTED: 'Resource has been exhausted (e.g. check quota).',
  INTERNAL: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  UNAVAILABLE: 'The model is overloaded. Please try again later.',
  DEADLINE_EXCEEDED: 'Deadline expired before operation could complete.',
};

const CONTEXT_MESSAGE = 'The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).';

/** A Google error for a scripted fault: `error_code` may name a gRPC status, `context_length_exceeded` or `API_KEY_INVALID`. */
function faultBody(status: number, fault: Fault): string {
  const code = fault.error_code;
  const details: Json[] = [];
  let message: string;
  if (code === 'context_length_exceeded') message = CONTEXT_MESSAGE;
  else if (code?.toUpperCase() === 'API_KEY_INVALID') {
    message = 'API key not valid. Please pass a valid API key.';
    details.push({ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' });
  } else message = FAULT_MESSAGES[statusName(status, code)] ?? `The request failed with status ${status}.`;
  // Gemini says when to come back in a RetryInfo detail rather than (only) a header.
  const seconds = Number(fault.retry_after);
  if (status === 429 && fault.retry_after !== undefined && Number.isFinite(seconds)) {
    details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${seconds}s` });
  }
  return geminiErrorBody(status, `${message} (lifeline mock: scripted fault)`, code, null, details);
}

export const geminiFaults: FaultRenderer = {
  faultError: (fault) => faultBody(fault.status ?? 500, fault),
};

// ---------------------------------------------------------------------------------------------------------
// generateContent

interface Answer {
  /** Text pieces (one per word), empty for a function call. */
  deltas: string[];
  finishReason: 'STOP' | 'MAX_TOKENS';
  call?: { name: string; args: Json };
}

/** Gemini schemas may spell types in upper case (`STRING`); placeholders read JSON Schema's lower case. */
function lowerTypes(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(lowerTypes);
  if (!isObject(schema)) return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'type' && typeof v === 'string' ? v.toLowerCase() : lowerTypes(v);
  return out;
}

function chooseFunction(request: Json): Answer['call'] | undefined {
  const tools = Array.isArray(request.tools) ? request.tools.filter(isObject) : [];
  const declarations = tools.flatMap((t) => {
    const list = field(t, 'functionDeclarations');
    return Array.isArray(list) ? list.filter(isObject) : [];
  });
  const toolConfig = field(request, 'toolConfig');
  const calling = isObject(toolConfig) ? field(toolConfig, 'functionCallingConfig') : undefined;
  const mode = isObject(calling) ? calling.mode : undefined;
  const contents = request.contents as Json[];
  const lastParts = contents[contents.length - 1]?.parts;
  const answersACall = Array.isArray(lastParts) && lastParts.some((p) => isObject(p) && field(p, 'functionResponse') !== undefined);
  if (declarations.length === 0 || mode === 'NONE' || answersACall) return undefined;
  const allowed = isObject(calling) ? field(calling, 'allowedFunctionNames') : undefined;
  const fn = declarations.find((f) => Array.isArray(allowed) && allowed.includes(f.name)) ?? declarations[0]!;
  const schema = fn.parameters ?? field(fn, 'parametersJsonSchema');
  return { name: String(fn.name), args: placeholderArguments(lowerTypes(schema)) };
}

function answer(request: Json, reply: string): Answer {
  const call = chooseFunction(request);
  if (call) return { deltas: [], finishReason: 'STOP', call };
  const words = splitWords(reply);
  const config = field(request, 'generationConfig');
  const limit = isObject(config) ? field(config, 'maxOutputTokens') : undefined;
  if (Number.isInteger(limit) && (limit as number) > 0 && (limit as number) < words.length) {
    return { deltas: words.slice(0, limit as number), finishReason: 'MAX_TOKENS' };
  }
  return { deltas: words, finishReason: 'STOP' };
}

function promptTokens(request: Json): number {
  let chars = 0;
  const system = field(request, 'systemInstruction');
  for (const content of [...(request.contents as Json[]), ...(isObject(system) ? [system] : [])]) {
    for (const part of Array.isArray(content.parts) ? content.parts : []) {
      if (isObject(part) && typeof part.text === 'string') chars += part.text.length;
    }
  }
  return estimateTokens(chars);
}

export interface GenerateContext {
  n: number;
  reply: string;
  model: string;
  /** streamGenerateContent: `sse` for SSE events, anything else for the JSON array form. */
  stream: 'sse' | 'array' | false;
}

/** Builds the reply to a request that passed `checkGenerate`. */
export function generateReply(request: Json, ctx: GenerateContext): Reply {
  const a = answer(request, ctx.reply);
  const prompt = promptTokens(request);
  const base = { modelVersion: ctx.model, responseId: `mock-resp-${ctx.n}` };
  const usage = (completion: number) => ({ promptTokenCount: prompt, candidatesTokenCount: completion, totalTokenCount: prompt + completion });
  const candidate = (parts: Json[], finishReason?: string) => ({
    content: { parts, role: 'model' },
    ...(finishReason ? { finishReason } : {}),
    index: 0,
  });
  const callPart = a.call && { functionCall: { name: a.call.name, args: a.call.args } };
  const completion = a.call ? 1 : a.deltas.length;

  if (ctx.stream === false) {
    const parts = callPart ? [callPart] : [{ text: a.deltas.join('') }];
    const body = { candidates: [candidate(parts, a.finishReason)], usageMetadata: usage(completion), ...base };
    return { kind: 'json', body: JSON.stringify(body) };
  }
  // One event per word with cumulative usage, as Gemini sends it; the finish reason rides on the last.
  const events = callPart
    ? [{ candidates: [candidate([callPart], a.finishReason)], usageMetadata: usage(1), ...base }]
    : a.deltas.map((text, i) => ({
        candidates: [candidate([{ text }], i === a.deltas.length - 1 ? a.finishReason : undefined)],
        usageMetadata: usage(i + 1),
        ...base,
      }));
  if (ctx.stream === 'array') return { kind: 'json', body: JSON.stringify(events) };
  // The event with the finish reason is the tail, so a stream cut "after all content" still lacks it, as a
  // scripted fault must show: Gemini has no terminator, and a cut after the finish reason is a clean end.
  const script: StreamScript = {
    head: [],
    content: events.slice(0, -1).map(sse),
    tail: events.slice(-1).map(sse),
    errorEvent: (fault) => `data: ${faultBody(statusOf(fault.error_code) ?? 500, fault)}\n\n`,
    malformedEvent: `data: ${JSON.stringify(events[0] ?? {}).slice(0, 30)}\n\n`,
  };
  return { kind: 'sse', script };
}

function sse(data: unknown): string {
  return `data: ${JSON.stringify(data)}\r\n\r\n`;
}

// ---------------------------------------------------------------------------------------------------------
// batchEmbedContents

/** Deterministic vectors from the text alone, `outputDimensionality` long (default 8, to keep bodies small). */
export function batchEmbedReply(body: unknown, model: string): Reply {
  const { texts, dims } = checkBatchEmbed(body, model);
  const embeddings = texts.map((text) => ({ values: embeddingVector(text, dims ?? 8) }));
  return { kind: 'json', body: JSON.stringify({ embeddings }) };
}

/** The mock's Gemini models, for `GET /v1beta/models`. */
const GEMINI_MODELS = ['gemini-mock', 'gemini-2.5-flash'];

/** `GET /v1beta/models` in Gemini's shape: `{ models: [{ name: 'models/…', displayName, supportedGenerationMethods }] }`. */
export function geminiModelsBody(): string {
  const models = GEMINI_MODELS.map((id) => ({
    name: `models/${id}`,
    version: '001',
    displayName: id,
    inputTokenLimit: 1_048_576,
    outputTokenLimit: 65_536,
    supportedGenerationMethods: ['generateContent', 'countTokens'],
  }));
  return JSON.stringify({ models });
}
