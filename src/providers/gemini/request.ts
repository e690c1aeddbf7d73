/**
 * OpenAI chat request → Gemini `GenerateContentRequest`: messages → `contents` (roles user/model, parts) and
 * `systemInstruction`, sampling fields → `generationConfig`, tools → `functionDeclarations`, tool_choice →
 * `toolConfig`. Pure; a request Gemini cannot express is a bad_request before any upstream call.
 */
import { GatewayError } from '../../errors.js';
import { functionParameters, responseSchema } from './schema.js';
import { nestsDeeperThan, parseNestedJson } from '../shared/raw-json.js';
import type { Deployment } from '../../types.js';

type Json = Record<string, unknown>;
type Part = Json;
interface Content {
  role: 'user' | 'model';
  parts: Part[];
}

/**
 * Gemini 3 wants the `thoughtSignature` of a function call back on the next turn. OpenAI clients only echo the
 * tool call id, so the signature travels inside it, after this separator.
 */
export const THOUGHT_SEPARATOR = '__thought__';

export function badRequest(d: Deployment, message: string, param?: string): GatewayError {
  return new GatewayError('bad_request', `Cannot translate the request for ${d.id}: ${message}`, {
    code: 'unsupported_for_provider',
    deployment: d.id,
    ...(param === undefined ? {} : { param }),
  });
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function buildGeminiChat(body: Json, d: Deployment): Json {
  const { system, contents } = translateMessages(body.messages, d);
  const out: Json = {};
  // Gemini needs at least one turn; a system-only conversation becomes a user turn, as OpenAI would read it.
  if (contents.length === 0 && system.length > 0) contents.push({ role: 'user', parts: system.splice(0) });
  out.contents = contents;
  if (system.length > 0) out.systemInstruction = { parts: system };
  const tools = translateTools(body.tools, d);
  if (tools) out.tools = tools;
  const toolConfig = translateToolChoice(body.tool_choice, d);
  if (toolConfig) out.toolConfig = toolConfig;
  const generationConfig = translateGenerationConfig(body, d);
  if (Object.keys(generationConfig).length > 0) out.generationConfig = generationConfig;
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Messages

function translateMessages(messages: unknown, d: Deployment): { system: Part[]; contents: Content[] } {
  if (!Array.isArray(messages)) throw badRequest(d, "'messages' must be an array", 'messages');
  const system: Part[] = [];
  const contents: Content[] = [];
  const toolNames = new Map<string, string>(); // tool_call id → function name, for the tool results after it
  // Gemini wants turns to alternate; consecutive messages of one role (parallel tool results, say) are one turn.
  const push = (role: Content['role'], parts: Part[]) => {
    if (parts.length === 0) return;
    const last = contents[contents.length - 1];
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };
  messages.forEach((m: unknown, i) => {
    if (!isObject(m)) throw badRequest(d, `messages[${i}] must be an object`, `messages[${i}]`);
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(...textParts(m.content, i, d));
        break;
      case 'user':
        push('user', userParts(m.content, i, d));
        break;
      case 'assistant':
        push('model', assistantParts(m, i, d, toolNames));
        break;
      case 'tool':
        push('user', [toolResult(m, i, d, toolNames)]);
        break;
      case 'function': // the deprecated predecessor of `tool`, named by the function itself
        push('user', [{ functionResponse: { name: String(m.name ?? ''), response: responseObject(m.content) } }]);
        break;
      default:
        throw badRequest(d, `messages[${i}].role ${JSON.stringify(m.role)} is not supported`, `messages[${i}].role`);
    }
  });
  return { system, contents };
}

/** Text of a content that may only hold text (system, tool results): a string or `text` parts. */
function contentText(content: unknown, i: number, d: Deployment): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (!Array.isArray(content)) throw badRequest(d, `messages[${i}].content must be a string or an array`, `messages[${i}].content`);
  return content
    .map((p) => {
      if (isObject(p) && (p.type === 'text' || p.type === 'refusal')) return String(p.text ?? p.refusal ?? '');
      throw badRequest(d, `messages[${i}] may only contain text parts`, `messages[${i}].content`);
    })
    .join('');
}

/** Gemini rejects empty text parts, so an empty text is no part at all. */
function textParts(content: unknown, i: number, d: Deployment): Part[] {
  const text = contentText(content, i, d);
  return text === '' ? [] : [{ text }];
}

function userParts(content: unknown, i: number, d: Deployment): Part[] {
  if (!Array.isArray(content)) return textParts(content, i, d);
  const parts: Part[] = [];
  for (const p of content) {
    if (!isObject(p)) throw badRequest(d, `messages[${i}].content has a part that is not an object`, `messages[${i}].content`);
    if (p.type === 'text') {
      if (typeof p.text === 'string' && p.text !== '') parts.push({ text: p.text });
    } else if (p.type === 'image_url') {
      const url = isObject(p.image_url) ? p.image_url.url : p.image_url;
      parts.push(mediaPart(url, i, d));
    } else if (p.type === 'input_audio' && isObject(p.input_audio)) {
      const format = p.input_audio.format === 'mp3' ? 'mp3' : 'wav';
      parts.push({ inlineData: { mimeType: `audio/${format}`, data: String(p.input_audio.data ?? '') } });
    } else if (p.type === 'file' && isObject(p.file) && typeof p.file.file_data === 'string') {
      parts.push(mediaPart(p.file.file_data, i, d));
    } else {
      throw badRequest(d, `messages[${i}] has a content part of type ${JSON.stringify(p.type)} that Gemini cannot take`, `messages[${i}].content`);
    }
  }
  return parts;
}

const DATA_URL = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s;

const MIME_BY_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
  mp3: 'audio/mp3',
  wav: 'audio/wav',
  mp4: 'video/mp4',
  txt: 'text/plain',
};

/** Gemini needs a MIME type for a file by URL; the extension is all there is to go on (default: JPEG). */
export function guessMimeType(url: string): string {
  const path = url.split(/[?#]/)[0] ?? '';
  const ext = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  return (ext && MIME_BY_EXTENSION[ext]) ?? 'image/jpeg';
}

/** A data URL → inline bytes; an http(s) or gs:// URL → a file reference Gemini fetches itself. */
function mediaPart(url: unknown, i: number, d: Deployment): Part {
  if (typeof url !== 'string') throw badRequest(d, `messages[${i}] has an image without a URL`, `messages[${i}].content`);
  const data = DATA_URL.exec(url);
  if (data) return { inlineData: { mimeType: data[1], data: data[2] } };
  if (/^(https?|gs):\/\//i.test(url)) return { fileData: { mimeType: guessMimeType(url), fileUri: url } };
  throw badRequest(d, `messages[${i}] has a media URL that is neither a base64 data URL nor http(s)`, `messages[${i}].content`);
}

function assistantParts(m: Json, i: number, d: Deployment, toolNames: Map<string, string>): Part[] {
  const parts = textParts(m.content, i, d);
  const calls = Array.isArray(m.tool_calls) ? m.tool_calls : [];
  for (const call of calls) {
    if (!isObject(call) || !isObject(call.function) || typeof call.function.name !== 'string') {
      throw badRequest(d, `messages[${i}].tool_calls has a call without a function name`, `messages[${i}].tool_calls`);
    }
    const name = call.function.name;
    const id = typeof call.id === 'string' ? call.id : '';
    toolNames.set(id, name);
    const part: Part = { functionCall: { name, args: parseArguments(call.function.arguments, i, d) } };
    const at = id.indexOf(THOUGHT_SEPARATOR);
    if (at >= 0) part.thoughtSignature = id.slice(at + THOUGHT_SEPARATOR.length);
    parts.push(part);
  }
  if (isObject(m.function_call) && typeof m.function_call.name === 'string') {
    parts.push({ functionCall: { name: m.function_call.name, args: parseArguments(m.function_call.arguments, i, d) } });
  }
  return parts;
}

/** Gemini's `args` is an object; OpenAI's `arguments` is its JSON text. */
function parseArguments(text: unknown, i: number, d: Deployment): Json {
  if (text === undefined || text === null || text === '') return {};
  let args: unknown;
  try {
    args = typeof text === 'string' ? parseNestedJson(text, `messages[${i}].tool_calls`) : text;
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    throw badRequest(d, `messages[${i}] has tool call arguments that are not JSON`, `messages[${i}].tool_calls`);
  }
  if (!isObject(args)) throw badRequest(d, `messages[${i}] has tool call arguments that are not a JSON object`, `messages[${i}].tool_calls`);
  return args;
}

function toolResult(m: Json, i: number, d: Deployment, toolNames: Map<string, string>): Part {
  const id = typeof m.tool_call_id === 'string' ? m.tool_call_id : '';
  const name = toolNames.get(id);
  if (name === undefined) {
    throw badRequest(d, `messages[${i}].tool_call_id ${JSON.stringify(id)} matches no earlier assistant tool call`, `messages[${i}].tool_call_id`);
  }
  return { functionResponse: { name, response: responseObject(contentText(m.content, i, d)) } };
}

/** Gemini's `response` is an object: the result's JSON when it is one, else the text under `content`. */
function responseObject(content: unknown): Json {
  const text = typeof content === 'string' ? content : JSON.stringify(content ?? '');
  // Too deep to be written out again once parsed: it goes as the text it is.
  if (nestsDeeperThan(text)) return { content: text };
  try {
    const parsed: unknown = JSON.parse(text);
    if (isObject(parsed)) return parsed;
  } catch {
    // plain text
  }
  return { content: text };
}

// ---------------------------------------------------------------------------------------------------------
// Tools and generation config

function translateTools(tools: unknown, d: Deployment): Json[] | undefined {
  if (tools === undefined || tools === null) return undefined;
  if (!Array.isArray(tools)) throw badRequest(d, "'tools' must be an array", 'tools');
  if (tools.length === 0) return undefined;
  const functionDeclarations = tools.map((t, i) => {
    if (!isObject(t) || t.type !== 'function' || !isObject(t.function) || typeof t.function.name !== 'string') {
      throw badRequest(d, `tools[${i}] is not a function tool; Gemini takes function tools only`, `tools[${i}]`);
    }
    const f = t.function;
    return {
      name: f.name,
      ...(typeof f.description === 'string' ? { description: f.description } : {}),
      ...functionParameters(f.parameters),
    };
  });
  return [{ functionDeclarations }];
}

const CHOICE_MODES: Record<string, string> = { auto: 'AUTO', none: 'NONE', required: 'ANY' };

function translateToolChoice(choice: unknown, d: Deployment): Json | undefined {
  if (choice === undefined || choice === null) return undefined;
  if (typeof choice === 'string' && CHOICE_MODES[choice]) return { functionCallingConfig: { mode: CHOICE_MODES[choice] } };
  if (isObject(choice) && isObject(choice.function) && typeof choice.function.name === 'string') {
    return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
  }
  throw badRequest(d, `tool_choice ${JSON.stringify(choice)} is not supported`, 'tool_choice');
}

const NUMERIC_FIELDS: ReadonlyArray<[string, string]> = [
  ['temperature', 'temperature'],
  ['top_p', 'topP'],
  ['n', 'candidateCount'],
  ['presence_penalty', 'presencePenalty'],
  ['frequency_penalty', 'frequencyPenalty'],
  ['seed', 'seed'],
];

function translateGenerationConfig(body: Json, d: Deployment): Json {
  const config: Json = {};
  for (const [from, to] of NUMERIC_FIELDS) {
    if (typeof body[from] === 'number') config[to] = body[from];
  }
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (typeof maxTokens === 'number') config.maxOutputTokens = maxTokens;
  if (typeof body.stop === 'string') config.stopSequences = [body.stop];
  else if (Array.isArray(body.stop) && body.stop.length > 0) config.stopSequences = body.stop;
  const format = body.response_format;
  if (isObject(format)) {
    if (format.type === 'json_object') config.responseMimeType = 'application/json';
    else if (format.type === 'json_schema') {
      const schema = isObject(format.json_schema) ? format.json_schema.schema : undefined;
      Object.assign(config, { responseMimeType: 'application/json' }, responseSchema(schema));
    } else if (format.type !== 'text') {
      throw badRequest(d, `response_format ${JSON.stringify(format.type)} is not supported`, 'response_format');
    }
  }
  return config;
}
