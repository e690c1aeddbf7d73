/**
 * Canonical (OpenAI Chat Completions) request → Anthropic Messages request. Pure.
 *
 * Translated: system/developer messages → `system`; user/assistant/tool turns (same-role runs merged, since
 * Anthropic wants alternation; tool results first in their user turn, as it requires); text, images (data
 * URLs → base64, http(s) → url), assistant `tool_calls` → `tool_use`, `tool` messages → `tool_result`;
 * max_tokens / max_completion_tokens (defaulted: Anthropic requires it), temperature, top_p, stop, stream,
 * tools, tool_choice, parallel_tool_calls, user → metadata.user_id. A conversation that opens with the
 * assistant gets a one-character user turn first (Anthropic requires the user to open).
 *
 * Dropped, because the Messages API has no equivalent: frequency_penalty, presence_penalty, logit_bias,
 * logprobs, top_logprobs, seed, response_format, service_tier, store, metadata (OpenAI's stored-completion
 * tags), modalities, audio, prediction, reasoning_effort, verbosity, web_search_options, prompt_cache_key,
 * safety_identifier, the legacy functions/function_call, message `name`s, and stream_options (a stream always
 * reports usage). Refused with a 400 (dropping them would change the answer the client expects): n > 1,
 * content parts other than text and images, tools other than functions.
 */
import { DEFAULT_ANTHROPIC_VERSION } from '../../config/provider-types.js';
import { GatewayError } from '../../errors.js';
import { parseNestedJson } from '../shared/raw-json.js';
import type { Deployment, UpstreamRequest } from '../../types.js';

type Json = Record<string, unknown>;
type Block = Json & { type: string };

interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

/** Used when the client sets no limit: Anthropic requires one, OpenAI lets the model run to its own. */
export const DEFAULT_MAX_TOKENS = 4096;

/** The version and key every Anthropic request carries, after the provider's own headers. */
export function anthropicHeaders(d: Deployment): Record<string, string> {
  return {
    'anthropic-version': d.provider.api_version ?? DEFAULT_ANTHROPIC_VERSION,
    ...d.provider.headers,
    ...(d.provider.api_key ? { 'x-api-key': d.provider.api_key } : {}),
  };
}

export function buildAnthropicRequest(body: Json, d: Deployment): UpstreamRequest {
  try {
    return {
      url: `${d.provider.base_url}/messages`,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...anthropicHeaders(d) },
      body: JSON.stringify(toMessagesBody(body, d.model)),
    };
  } catch (err) {
    if (err instanceof GatewayError) err.deployment ??= d.id;
    throw err;
  }
}

/** The Messages API body for a canonical chat request. */
export function toMessagesBody(body: Json, model: string): Json {
  if (typeof body.n === 'number' && body.n > 1) refuse('Anthropic models return one choice per request; n must be 1', 'n');
  const { system, messages } = translateMessages(body.messages);
  const out: Json = { model, max_tokens: maxTokens(body) };
  if (system !== '') out.system = system;
  out.messages = messages;
  // OpenAI's range is 0–2, Anthropic's 0–1: clamped, so a request valid for OpenAI stays valid on failover.
  if (typeof body.temperature === 'number') out.temperature = Math.min(1, Math.max(0, body.temperature));
  if (typeof body.top_p === 'number') out.top_p = body.top_p;
  const stop = typeof body.stop === 'string' ? [body.stop] : Array.isArray(body.stop) ? body.stop.filter((s) => typeof s === 'string') : [];
  if (stop.length > 0) out.stop_sequences = stop;
  if (body.stream === true) out.stream = true;
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    out.tools = body.tools.map(translateTool);
    const choice = translateToolChoice(body.tool_choice, body.parallel_tool_calls);
    if (choice) out.tool_choice = choice;
  }
  if (typeof body.user === 'string' && body.user !== '') out.metadata = { user_id: body.user };
  return out;
}

function maxTokens(body: Json): number {
  const limit = body.max_completion_tokens ?? body.max_tokens;
  return Number.isInteger(limit) && (limit as number) > 0 ? (limit as number) : DEFAULT_MAX_TOKENS;
}

function refuse(message: string, param: string): never {
  throw new GatewayError('bad_request', message, { code: 'unsupported_by_provider', param });
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------------------
// Messages

function translateMessages(raw: unknown): { system: string; messages: Array<{ role: string; content: string | Block[] }> } {
  const system: string[] = [];
  const turns: Turn[] = [];
  const list = Array.isArray(raw) ? raw : [];
  list.forEach((m: unknown, i) => {
    if (!isObject(m)) refuse('each message must be an object', `messages[${i}]`);
    const path = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = plainText(m.content, `${path}.content`);
        if (text !== '') system.push(text);
        break;
      }
      case 'user':
        push(turns, 'user', contentBlocks(m.content, `${path}.content`));
        break;
      case 'assistant':
        push(turns, 'assistant', [...contentBlocks(m.content, `${path}.content`), ...toolUses(m.tool_calls, path)]);
        break;
      case 'tool':
        push(turns, 'user', [toolResult(m, path)]);
        break;
      default:
        refuse(`message role "${String(m.role)}" cannot be sent to an Anthropic model`, `${path}.role`);
    }
  });
  // Anthropic refuses a conversation that opens with the assistant (OpenAI accepts it, e.g. a greeting turn
  // or a trimmed history); a minimal user turn keeps such a request valid on failover.
  if (turns[0]?.role === 'assistant') turns.unshift({ role: 'user', content: [{ type: 'text', text: OPENING_USER_TEXT }] });
  const messages = turns.map((t) => ({ role: t.role, content: simplify(t) }));
  return { system: system.join('\n\n'), messages };
}

/** The text of the user turn put before a conversation that opens with the assistant. */
export const OPENING_USER_TEXT = '.';

/** Appends to the last turn when it has the same role: Anthropic wants user and assistant to alternate. */
function push(turns: Turn[], role: Turn['role'], blocks: Block[]): void {
  if (blocks.length === 0) return;
  const last = turns[turns.length - 1];
  if (last?.role === role) last.content.push(...blocks);
  else turns.push({ role, content: [...blocks] });
}

/** Tool results must open their user turn; a lone text block goes as a plain string. */
function simplify(turn: Turn): string | Block[] {
  const blocks = turn.role === 'user' ? sortToolResultsFirst(turn.content) : turn.content;
  const only = blocks[0];
  if (blocks.length === 1 && only?.type === 'text' && only.cache_control === undefined) return only.text as string;
  return blocks;
}

function sortToolResultsFirst(blocks: Block[]): Block[] {
  const results = blocks.filter((b) => b.type === 'tool_result');
  return results.length === 0 ? blocks : [...results, ...blocks.filter((b) => b.type !== 'tool_result')];
}

function textBlock(text: string, part?: Json): Block[] {
  // Anthropic rejects empty text blocks; an empty string adds nothing anyway.
  if (text === '') return [];
  return [{ type: 'text', text, ...(part && part.cache_control !== undefined ? { cache_control: part.cache_control } : {}) }];
}

/** Text, images and refusals of a user or assistant message, as Anthropic blocks. */
function contentBlocks(content: unknown, path: string): Block[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return textBlock(content);
  if (!Array.isArray(content)) refuse('message content must be a string or an array of parts', path);
  return content.flatMap((part: unknown, i): Block[] => {
    const where = `${path}[${i}]`;
    if (!isObject(part)) refuse('each content part must be an object', where);
    if (part.type === 'text' && typeof part.text === 'string') return textBlock(part.text, part);
    if (part.type === 'refusal' && typeof part.refusal === 'string') return textBlock(part.refusal);
    if (part.type === 'image_url') return [imageBlock(part, where)];
    return refuse(`content parts of type "${String(part.type)}" cannot be sent to an Anthropic model`, `${where}.type`);
  });
}

/** The text of a system message (a string or text parts). */
function plainText(content: unknown, path: string): string {
  if (typeof content === 'string') return content;
  return contentBlocks(content, path)
    .map((b) => (b.type === 'text' ? (b.text as string) : refuse('system messages can only hold text', path)))
    .join('\n');
}

function imageBlock(part: Json, path: string): Block {
  const image = part.image_url;
  const url = typeof image === 'string' ? image : isObject(image) ? image.url : undefined;
  if (typeof url !== 'string') refuse('image_url.url must be a string', `${path}.image_url`);
  if (url.startsWith('data:')) {
    // data:<media type>;base64,<data> — found by index, not a regex, since the data may be megabytes.
    const comma = url.indexOf(',');
    const meta = comma < 0 ? '' : url.slice(5, comma);
    if (!meta.endsWith(';base64')) refuse('image data URLs must be base64 encoded', `${path}.image_url`);
    return { type: 'image', source: { type: 'base64', media_type: meta.slice(0, -';base64'.length), data: url.slice(comma + 1) } };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  return refuse('image URLs must be http(s) or base64 data URLs', `${path}.image_url`);
}

/** Assistant `tool_calls` → `tool_use` blocks; the arguments JSON text becomes the input object. */
function toolUses(calls: unknown, path: string): Block[] {
  if (!Array.isArray(calls)) return [];
  return calls.map((call: unknown, i): Block => {
    const where = `${path}.tool_calls[${i}]`;
    const c = isObject(call) ? call : {};
    const fn = isObject(c.function) ? c.function : {};
    if (typeof fn.name !== 'string' || typeof c.id !== 'string') refuse('a tool call needs an id and a function name', where);
    return { type: 'tool_use', id: c.id, name: fn.name, input: toolInput(fn.arguments, `${where}.function.arguments`) };
  });
}

function toolInput(args: unknown, path: string): Json {
  if (args === undefined || args === null || (typeof args === 'string' && args.trim() === '')) return {};
  if (isObject(args)) return args;
  let parsed: unknown;
  try {
    parsed = parseNestedJson(String(args), path);
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    refuse('tool call arguments must be a JSON object to be sent to an Anthropic model', path);
  }
  if (!isObject(parsed)) refuse('tool call arguments must be a JSON object to be sent to an Anthropic model', path);
  return parsed;
}

/** A `tool` message → a `tool_result` block (its user turn is formed by merging). */
function toolResult(m: Json, path: string): Block {
  if (typeof m.tool_call_id !== 'string') refuse('a tool message needs a tool_call_id', `${path}.tool_call_id`);
  const block: Block = { type: 'tool_result', tool_use_id: m.tool_call_id };
  if (typeof m.content === 'string') {
    if (m.content !== '') block.content = m.content;
  } else {
    const parts = contentBlocks(m.content, `${path}.content`);
    if (parts.length > 0) block.content = parts;
  }
  return block;
}

// ---------------------------------------------------------------------------------------------------------
// Tools

function translateTool(tool: unknown, i: number): Json {
  const fn = isObject(tool) && tool.type === 'function' && isObject(tool.function) ? tool.function : undefined;
  if (!fn || typeof fn.name !== 'string') refuse('only function tools can be sent to an Anthropic model', `tools[${i}]`);
  return {
    name: fn.name,
    ...(typeof fn.description === 'string' ? { description: fn.description } : {}),
    // OpenAI makes parameters optional (a function without arguments); Anthropic requires an object schema.
    input_schema: isObject(fn.parameters) ? fn.parameters : { type: 'object', properties: {} },
  };
}

function translateToolChoice(choice: unknown, parallel: unknown): Json | undefined {
  let out: Json | undefined;
  if (choice === 'auto') out = { type: 'auto' };
  else if (choice === 'required') out = { type: 'any' };
  else if (choice === 'none') out = { type: 'none' };
  else if (isObject(choice) && choice.type === 'function' && isObject(choice.function) && typeof choice.function.name === 'string') {
    out = { type: 'tool', name: choice.function.name };
  } else if (choice !== undefined && choice !== null) {
    refuse('tool_choice must be "auto", "required", "none" or a function', 'tool_choice');
  }
  // Anthropic puts the parallel switch on tool_choice; `none` has no such field (no tool is called at all).
  if (parallel === false && out?.type !== 'none') out = { ...(out ?? { type: 'auto' }), disable_parallel_tool_use: true };
  return out;
}
