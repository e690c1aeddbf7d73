import { GatewayError } from '../../../errors.js';

/**
 * Anthropic Messages request → canonical (OpenAI Chat Completions) request. Only fields with a faithful
 * canonical equivalent are carried; a block or tool the canonical model cannot express is a 400 naming it
 * (Anthropic's dotted paths, `messages.0.content.1.type`), never a silent drop — except `thinking` blocks
 * from earlier turns, which only the model that wrote them can read, and `cache_control` hints.
 */

type Json = Record<string, unknown>;

export interface ParsedMessages {
  model: string;
  stream: boolean;
  canonical: Json;
}

function invalid(param: string, message: string): GatewayError {
  return new GatewayError('bad_request', `${param}: ${message}`, { param, code: 'invalid_request' });
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function object(v: unknown, path: string): Json {
  if (!isObject(v)) throw invalid(path, `must be an object, got ${typeName(v)}`);
  return v;
}

function string(v: unknown, path: string): string {
  if (v === undefined) throw invalid(path, 'Field required');
  if (typeof v !== 'string') throw invalid(path, `must be a string, got ${typeName(v)}`);
  return v;
}

function number(body: Json, field: string): number | undefined {
  const v = body[field];
  if (!present(v)) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(field, `must be a number, got ${typeName(v)}`);
  return v;
}

function array(v: unknown, path: string): unknown[] {
  if (v === undefined) throw invalid(path, 'Field required');
  if (!Array.isArray(v)) throw invalid(path, `must be an array, got ${typeName(v)}`);
  return v;
}

/** The Messages request, validated and translated. Throws a bad_request GatewayError naming the field. */
export function parseAnthropicRequest(body: Json): ParsedMessages {
  const model = string(body.model, 'model');
  if (model === '') throw invalid('model', 'must be a non-empty string');
  const maxTokens = body.max_tokens;
  if (maxTokens === undefined || maxTokens === null) throw invalid('max_tokens', 'Field required');
  if (!Number.isInteger(maxTokens) || (maxTokens as number) < 1) {
    throw invalid('max_tokens', `must be a positive integer, got ${JSON.stringify(maxTokens)}`);
  }
  if (present(body.stream) && typeof body.stream !== 'boolean') throw invalid('stream', `must be a boolean, got ${typeName(body.stream)}`);
  const stream = body.stream === true;

  const messages: Json[] = [];
  if (present(body.system)) messages.push({ role: 'system', content: systemText(body.system) });
  const input = array(body.messages, 'messages');
  if (input.length === 0) throw invalid('messages', 'must contain at least one message');
  input.forEach((m, i) => {
    messages.push(...translateMessage(m, `messages.${i}`));
  });

  const canonical: Json = { model, messages, max_tokens: maxTokens };
  const temperature = number(body, 'temperature');
  if (temperature !== undefined) canonical.temperature = temperature;
  const topP = number(body, 'top_p');
  if (topP !== undefined) canonical.top_p = topP;
  if (present(body.stop_sequences)) canonical.stop = stopSequences(body.stop_sequences);
  if (stream) canonical.stream = true;
  Object.assign(canonical, toolFields(body));
  const user = metadataUser(body.metadata);
  if (user !== undefined) canonical.user = user;
  return { model, stream, canonical };
}

/**
 * A `count_tokens` body: the Messages request without `max_tokens` (which it does not take; one sent is still
 * checked) and never a stream, validated and translated as `/v1/messages` does it, so that the count is of what
 * the gateway would send upstream.
 */
export function parseAnthropicCountRequest(body: Json): { model: string; canonical: Json } {
  const { model, canonical } = parseAnthropicRequest({ ...body, max_tokens: present(body.max_tokens) ? body.max_tokens : 1, stream: false });
  delete canonical.max_tokens;
  return { model, canonical };
}

function systemText(system: unknown): string {
  if (typeof system === 'string') return system;
  if (!Array.isArray(system)) throw invalid('system', `must be a string or an array of text blocks, got ${typeName(system)}`);
  return system
    .map((block, i) => {
      const b = object(block, `system.${i}`);
      if (b.type !== 'text') throw invalid(`system.${i}.type`, `must be "text", got ${JSON.stringify(b.type)}`);
      return string(b.text, `system.${i}.text`);
    })
    .join('\n');
}

function stopSequences(v: unknown): string[] {
  return array(v, 'stop_sequences').map((s, i) => string(s, `stop_sequences.${i}`));
}

function metadataUser(v: unknown): string | undefined {
  if (!present(v)) return undefined;
  const id = object(v, 'metadata').user_id;
  if (!present(id)) return undefined;
  return string(id, 'metadata.user_id');
}

// ---------------------------------------------------------------------------------------------------------
// Messages and content blocks

function translateMessage(m: unknown, path: string): Json[] {
  const msg = object(m, path);
  const role = msg.role;
  if (role === undefined) throw invalid(`${path}.role`, 'Field required');
  if (role !== 'user' && role !== 'assistant') {
    throw invalid(`${path}.role`, `must be "user" or "assistant", got ${JSON.stringify(role)}`);
  }
  const content = msg.content;
  if (content === undefined) throw invalid(`${path}.content`, 'Field required');
  if (typeof content === 'string') return [{ role, content }];
  if (!Array.isArray(content)) {
    throw invalid(`${path}.content`, `must be a string or an array of content blocks, got ${typeName(content)}`);
  }
  const blocks = content.map((b, i) => object(b, `${path}.content.${i}`));
  return role === 'assistant' ? [assistantMessage(blocks, `${path}.content`)] : userMessages(blocks, `${path}.content`);
}

/** Text blocks become the content, `tool_use` blocks become `tool_calls` with the input as a JSON string. */
function assistantMessage(blocks: Json[], path: string): Json {
  const texts: string[] = [];
  const toolCalls: Json[] = [];
  blocks.forEach((b, i) => {
    const at = `${path}.${i}`;
    switch (b.type) {
      case 'text':
        texts.push(string(b.text, `${at}.text`));
        break;
      case 'tool_use': {
        const input = b.input === undefined ? {} : object(b.input, `${at}.input`);
        toolCalls.push({
          id: string(b.id, `${at}.id`),
          type: 'function',
          function: { name: string(b.name, `${at}.name`), arguments: JSON.stringify(input) },
        });
        break;
      }
      case 'thinking':
      case 'redacted_thinking':
        break; // signed reasoning of an earlier turn: meaningless to any other model
      default:
        throw unsupportedBlock(b.type, `${at}.type`, 'assistant');
    }
  });
  const message: Json = { role: 'assistant', content: texts.length > 0 ? texts.join('') : null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  else if (message.content === null) message.content = '';
  return message;
}

/**
 * `tool_result` blocks become `tool` messages, which must directly follow the assistant's tool calls, so they
 * come first; the rest of the turn (and any images a tool returned, which a `tool` message cannot hold)
 * follows as one user message.
 */
function userMessages(blocks: Json[], path: string): Json[] {
  const tools: Json[] = [];
  const parts: Json[] = [];
  blocks.forEach((b, i) => {
    const at = `${path}.${i}`;
    switch (b.type) {
      case 'text':
        parts.push({ type: 'text', text: string(b.text, `${at}.text`) });
        break;
      case 'image':
        parts.push(imagePart(b, at));
        break;
      case 'document':
        parts.push(documentPart(b, at));
        break;
      case 'tool_result':
        tools.push(toolMessage(b, at, parts));
        break;
      default:
        throw unsupportedBlock(b.type, `${at}.type`, 'user');
    }
  });
  const out = [...tools];
  if (parts.length === 1 && parts[0]!.type === 'text') out.push({ role: 'user', content: parts[0]!.text });
  else if (parts.length > 0) out.push({ role: 'user', content: parts });
  else if (tools.length === 0) out.push({ role: 'user', content: '' });
  return out;
}

function toolMessage(b: Json, at: string, images: Json[]): Json {
  const id = string(b.tool_use_id, `${at}.tool_use_id`);
  let text: string;
  if (!present(b.content)) text = '';
  else if (typeof b.content === 'string') text = b.content;
  else if (Array.isArray(b.content)) {
    const texts: string[] = [];
    b.content.forEach((inner, j) => {
      const p = object(inner, `${at}.content.${j}`);
      if (p.type === 'text') texts.push(string(p.text, `${at}.content.${j}.text`));
      else if (p.type === 'image') images.push(imagePart(p, `${at}.content.${j}`));
      else throw unsupportedBlock(p.type, `${at}.content.${j}.type`, 'tool_result');
    });
    text = texts.join('\n');
  } else throw invalid(`${at}.content`, `must be a string or an array of content blocks, got ${typeName(b.content)}`);
  if (present(b.is_error) && typeof b.is_error !== 'boolean') throw invalid(`${at}.is_error`, 'must be a boolean');
  // The canonical tool message has no error flag; say it in the text the model reads.
  if (b.is_error === true) text = text === '' ? 'Error: the tool call failed.' : `Error: ${text}`;
  return { role: 'tool', tool_call_id: id, content: text };
}

function imagePart(b: Json, at: string): Json {
  const source = object(b.source, `${at}.source`);
  if (source.type === 'base64') {
    const mediaType = string(source.media_type, `${at}.source.media_type`);
    const data = string(source.data, `${at}.source.data`);
    return { type: 'image_url', image_url: { url: `data:${mediaType};base64,${data}` } };
  }
  if (source.type === 'url') return { type: 'image_url', image_url: { url: string(source.url, `${at}.source.url`) } };
  throw invalid(`${at}.source.type`, `image sources of type ${JSON.stringify(source.type)} are not supported by this gateway; use "base64" or "url"`);
}

/** Plain-text documents become text; base64 PDFs become a canonical `file` part. */
function documentPart(b: Json, at: string): Json {
  const source = object(b.source, `${at}.source`);
  if (source.type === 'text') return { type: 'text', text: string(source.data, `${at}.source.data`) };
  if (source.type === 'base64') {
    const mediaType = string(source.media_type, `${at}.source.media_type`);
    const file: Json = { file_data: `data:${mediaType};base64,${string(source.data, `${at}.source.data`)}` };
    file.filename = typeof b.title === 'string' && b.title !== '' ? b.title : 'document.pdf';
    return { type: 'file', file };
  }
  throw invalid(`${at}.source.type`, `document sources of type ${JSON.stringify(source.type)} are not supported by this gateway; use "base64" or "text"`);
}

function unsupportedBlock(type: unknown, path: string, where: string): GatewayError {
  if (type === undefined) return invalid(path, 'Field required');
  return invalid(path, `content blocks of type ${JSON.stringify(type)} are not supported in ${where} content by this gateway`);
}

// ---------------------------------------------------------------------------------------------------------
// Tools

function toolFields(body: Json): Json {
  if (!present(body.tools)) return {};
  const tools = array(body.tools, 'tools').map((t, i) => {
    const tool = object(t, `tools.${i}`);
    if (present(tool.type) && tool.type !== 'custom') {
      throw invalid(`tools.${i}.type`, `server tools (${JSON.stringify(tool.type)}) are not supported by this gateway; only custom tools with an input_schema`);
    }
    const fn: Json = { name: string(tool.name, `tools.${i}.name`) };
    if (present(tool.description)) fn.description = string(tool.description, `tools.${i}.description`);
    fn.parameters = object(tool.input_schema, `tools.${i}.input_schema`);
    return { type: 'function', function: fn };
  });
  // OpenAI refuses tool_choice and parallel_tool_calls without tools.
  if (tools.length === 0) return {};
  const out: Json = { tools };
  if (present(body.tool_choice)) {
    const choice = object(body.tool_choice, 'tool_choice');
    out.tool_choice = toolChoice(choice);
    if (choice.disable_parallel_tool_use === true && choice.type !== 'none') out.parallel_tool_calls = false;
  }
  return out;
}

function toolChoice(choice: Json): unknown {
  switch (choice.type) {
    case 'auto':
      return 'auto';
    case 'any':
      return 'required';
    case 'none':
      return 'none';
    case 'tool':
      return { type: 'function', function: { name: string(choice.name, 'tool_choice.name') } };
    case undefined:
      throw invalid('tool_choice.type', 'Field required');
    default:
      throw invalid('tool_choice.type', `must be one of auto, any, tool, none; got ${JSON.stringify(choice.type)}`);
  }
}
