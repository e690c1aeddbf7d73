import { GatewayError } from '../errors.js';

/**
 * Checks the fields the gateway itself relies on, and the types of the common ones, so a mistake gets a
 * 400 naming the field instead of an upstream round trip. Everything else passes through untouched.
 * Hand-written rather than a schema library: it runs on every request.
 */

type Body = Record<string, unknown>;

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'];
const NUMBER_FIELDS = [
  'temperature',
  'top_p',
  'max_tokens',
  'max_completion_tokens',
  'n',
  'presence_penalty',
  'frequency_penalty',
  'seed',
  'top_logprobs',
];

function invalid(param: string, message: string): GatewayError {
  return new GatewayError('bad_request', message, { param, code: 'invalid_request' });
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function requireModel(body: Body): string {
  const model = body.model;
  if (model === undefined) throw invalid('model', "Missing required field 'model'");
  if (typeof model !== 'string' || model === '') {
    throw invalid('model', `'model' must be a non-empty string, got ${typeName(model)}`);
  }
  return model;
}

export interface ChatFields {
  model: string;
  stream: boolean;
}

export function validateChat(body: Body): ChatFields {
  const model = requireModel(body);
  const messages = body.messages;
  if (messages === undefined) throw invalid('messages', "Missing required field 'messages'");
  if (!Array.isArray(messages)) throw invalid('messages', `'messages' must be an array, got ${typeName(messages)}`);
  if (messages.length === 0) throw invalid('messages', "'messages' must contain at least one message");
  for (let i = 0; i < messages.length; i++) validateMessage(messages[i], `messages[${i}]`);
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
    throw invalid('stream', `'stream' must be a boolean, got ${typeName(body.stream)}`);
  }
  for (const field of NUMBER_FIELDS) {
    const v = body[field];
    if (v !== undefined && v !== null && typeof v !== 'number') {
      throw invalid(field, `'${field}' must be a number, got ${typeName(v)}`);
    }
  }
  for (const field of ['tools', 'functions'] as const) {
    const v = body[field];
    if (v !== undefined && v !== null && !Array.isArray(v)) {
      throw invalid(field, `'${field}' must be an array, got ${typeName(v)}`);
    }
  }
  const so = body.stream_options;
  if (so !== undefined && so !== null && (typeof so !== 'object' || Array.isArray(so))) {
    throw invalid('stream_options', `'stream_options' must be an object, got ${typeName(so)}`);
  }
  return { model, stream: body.stream === true };
}

function validateMessage(m: unknown, path: string): void {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) {
    throw invalid(path, `'${path}' must be an object with 'role' and 'content', got ${typeName(m)}`);
  }
  const msg = m as Body;
  if (msg.role === undefined) throw invalid(`${path}.role`, `Missing required field '${path}.role'`);
  if (typeof msg.role !== 'string' || !ROLES.includes(msg.role)) {
    throw invalid(`${path}.role`, `'${path}.role' must be one of ${ROLES.join(', ')}; got ${JSON.stringify(msg.role)}`);
  }
  const c = msg.content;
  if (c !== undefined && c !== null && typeof c !== 'string' && !Array.isArray(c)) {
    throw invalid(`${path}.content`, `'${path}.content' must be a string or an array of content parts, got ${typeName(c)}`);
  }
  if ((c === undefined || c === null) && msg.role !== 'assistant') {
    throw invalid(`${path}.content`, `Missing required field '${path}.content'`);
  }
}

export function validateEmbeddings(body: Body): { model: string } {
  const model = requireModel(body);
  const input = body.input;
  if (input === undefined) throw invalid('input', "Missing required field 'input'");
  if (typeof input === 'string') return { model };
  if (!Array.isArray(input) || input.length === 0) {
    throw invalid('input', `'input' must be a string or a non-empty array, got ${typeName(input)}`);
  }
  const ok = input.every(
    (x) => typeof x === 'string' || typeof x === 'number' || (Array.isArray(x) && x.every((t) => typeof t === 'number')),
  );
  if (!ok) throw invalid('input', "'input' must be a string, an array of strings, or an array of token arrays");
  return { model };
}

/** The Responses API: the gateway needs `model`; `input` is the upstream's to judge (string or items). */
export function validateResponses(body: Body): { model: string; stream: boolean } {
  const model = requireModel(body);
  const input = body.input;
  if (input === undefined && body.previous_response_id === undefined) throw invalid('input', "Missing required field 'input'");
  if (input !== undefined && typeof input !== 'string' && !Array.isArray(input)) {
    throw invalid('input', `'input' must be a string or an array of input items, got ${typeName(input)}`);
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
    throw invalid('stream', `'stream' must be a boolean, got ${typeName(body.stream)}`);
  }
  return { model, stream: body.stream === true };
}
