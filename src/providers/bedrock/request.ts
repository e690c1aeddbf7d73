/**
 * OpenAI chat request → Bedrock Converse request body. Pure. Bedrock wants strictly alternating user/assistant
 * turns, so consecutive same-role messages are merged, and OpenAI `tool` messages become `toolResult` blocks of
 * a user turn (several results of one assistant turn end up in one user message, as Bedrock requires).
 */
import { GatewayError } from '../../errors.js';
import { parseNestedJson } from '../shared/raw-json.js';

type Json = Record<string, unknown>;

export type ConverseBlock =
  | { text: string }
  | { image: { format: string; source: { bytes: string } } }
  | { toolUse: { toolUseId: string; name: string; input: unknown } }
  | { toolResult: { toolUseId: string; content: Array<{ text: string }> } };

export interface ConverseMessage {
  role: 'user' | 'assistant';
  content: ConverseBlock[];
}

export interface ConverseRequest {
  messages: ConverseMessage[];
  system?: Array<{ text: string }>;
  inferenceConfig?: { maxTokens?: number; temperature?: number; topP?: number; stopSequences?: string[] };
  toolConfig?: { tools: Array<{ toolSpec: Json }>; toolChoice?: Json };
}

function invalid(message: string, param: string): GatewayError {
  return new GatewayError('bad_request', message, { code: 'invalid_request_for_bedrock', param });
}

const IMAGE_FORMATS: Record<string, string> = { png: 'png', jpeg: 'jpeg', jpg: 'jpeg', gif: 'gif', webp: 'webp' };
const DATA_URL = /^data:image\/([a-z]+);base64,(.*)$/s;

/** Bedrock takes image bytes only; fetching an http URL would be I/O, which providers never do. */
function imageBlock(part: Json, param: string): ConverseBlock {
  const url = (part.image_url as Json | undefined)?.url;
  const match = typeof url === 'string' ? DATA_URL.exec(url) : null;
  const format = match ? IMAGE_FORMATS[match[1]!.toLowerCase()] : undefined;
  if (!match || !format) {
    throw invalid('Bedrock accepts images only as base64 data URLs (png, jpeg, gif or webp), not http URLs', param);
  }
  return { image: { format, source: { bytes: match[2]! } } };
}

/** Text and image blocks of an OpenAI `content` (a string or an array of parts); empty text is dropped. */
function contentBlocks(content: unknown, param: string): ConverseBlock[] {
  if (typeof content === 'string') return content === '' ? [] : [{ text: content }];
  if (!Array.isArray(content)) return [];
  const blocks: ConverseBlock[] = [];
  content.forEach((raw, i) => {
    const part = (raw ?? {}) as Json;
    if (part.type === 'text' && typeof part.text === 'string') {
      if (part.text !== '') blocks.push({ text: part.text });
    } else if (part.type === 'image_url') {
      blocks.push(imageBlock(part, `${param}[${i}]`));
    } else {
      throw invalid(`content part type "${String(part.type)}" is not supported by Bedrock`, `${param}[${i}]`);
    }
  });
  return blocks;
}

function plainText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => ((p as Json | null)?.type === 'text' ? String((p as Json).text ?? '') : '')).join('');
}

function toolUseBlocks(toolCalls: unknown, param: string): ConverseBlock[] {
  if (!Array.isArray(toolCalls)) return [];
  return toolCalls.map((raw, i) => {
    const call = (raw ?? {}) as Json;
    const fn = (call.function ?? {}) as Json;
    const args = typeof fn.arguments === 'string' && fn.arguments.trim() !== '' ? fn.arguments : '{}';
    let input: unknown;
    try {
      input = parseNestedJson(args, `${param}[${i}].function.arguments`);
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw invalid('tool call arguments must be JSON for Bedrock', `${param}[${i}].function.arguments`);
    }
    return { toolUse: { toolUseId: String(call.id ?? ''), name: String(fn.name ?? ''), input } };
  });
}

/** Appends a turn, merging it into the previous one when the role repeats. */
function append(out: ConverseMessage[], role: ConverseMessage['role'], content: ConverseBlock[]): void {
  if (content.length === 0) return;
  const last = out[out.length - 1];
  if (last && last.role === role) last.content.push(...content);
  else out.push({ role, content });
}

function translateMessages(messages: unknown): Pick<ConverseRequest, 'messages' | 'system'> {
  if (!Array.isArray(messages)) throw invalid("'messages' must be an array", 'messages');
  const out: ConverseMessage[] = [];
  const system: Array<{ text: string }> = [];
  messages.forEach((raw, i) => {
    const m = (raw ?? {}) as Json;
    const param = `messages[${i}]`;
    if (m.role === 'system' || m.role === 'developer') {
      const text = plainText(m.content);
      if (text !== '') system.push({ text });
    } else if (m.role === 'user') {
      append(out, 'user', contentBlocks(m.content, `${param}.content`));
    } else if (m.role === 'assistant') {
      append(out, 'assistant', [
        ...contentBlocks(m.content, `${param}.content`),
        ...toolUseBlocks(m.tool_calls, `${param}.tool_calls`),
      ]);
    } else if (m.role === 'tool') {
      const result = { toolUseId: String(m.tool_call_id ?? ''), content: [{ text: plainText(m.content) }] };
      append(out, 'user', [{ toolResult: result }]);
    } else {
      throw invalid(`message role "${String(m.role)}" is not supported by Bedrock`, `${param}.role`);
    }
  });
  return system.length > 0 ? { messages: out, system } : { messages: out };
}

function inferenceConfig(body: Json): ConverseRequest['inferenceConfig'] {
  const config: NonNullable<ConverseRequest['inferenceConfig']> = {};
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (typeof maxTokens === 'number') config.maxTokens = maxTokens;
  if (typeof body.temperature === 'number') config.temperature = body.temperature;
  if (typeof body.top_p === 'number') config.topP = body.top_p;
  if (typeof body.stop === 'string') config.stopSequences = [body.stop];
  else if (Array.isArray(body.stop) && body.stop.length > 0) config.stopSequences = body.stop.map(String);
  return Object.keys(config).length > 0 ? config : undefined;
}

function toolChoice(choice: unknown): Json | undefined {
  if (choice === 'required') return { any: {} };
  if (choice === 'auto') return { auto: {} };
  const name = choice && typeof choice === 'object' ? ((choice as Json).function as Json | undefined)?.name : undefined;
  return typeof name === 'string' ? { tool: { name } } : undefined;
}

function hasToolBlocks(messages: ConverseMessage[]): boolean {
  return messages.some((m) => m.content.some((b) => 'toolUse' in b || 'toolResult' in b));
}

/**
 * `tool_choice: "none"` has no Converse equivalent, so the tools are left out instead; unless the history holds
 * tool blocks, which Bedrock only accepts with a toolConfig (then the model may still choose to call one).
 */
function toolConfig(body: Json, messages: ConverseMessage[]): ConverseRequest['toolConfig'] {
  const tools = Array.isArray(body.tools) ? body.tools : [];
  const specs = tools
    .map((t) => ((t ?? {}) as Json).function as Json | undefined)
    .filter((fn): fn is Json => !!fn && typeof fn.name === 'string')
    .map((fn) => ({
      toolSpec: {
        name: fn.name,
        ...(typeof fn.description === 'string' && fn.description !== '' ? { description: fn.description } : {}),
        inputSchema: { json: fn.parameters ?? { type: 'object', properties: {} } },
      },
    }));
  if (specs.length === 0) return undefined;
  if (body.tool_choice === 'none' && !hasToolBlocks(messages)) return undefined;
  const choice = body.tool_choice === 'none' ? undefined : toolChoice(body.tool_choice);
  return choice ? { tools: specs, toolChoice: choice } : { tools: specs };
}

/** The Converse (and ConverseStream) request body for an OpenAI chat request. */
export function toConverseRequest(body: Json): ConverseRequest {
  const { messages, system } = translateMessages(body.messages);
  const request: ConverseRequest = { messages };
  if (system) request.system = system;
  const inference = inferenceConfig(body);
  if (inference) request.inferenceConfig = inference;
  const tools = toolConfig(body, messages);
  if (tools) request.toolConfig = tools;
  return request;
}
