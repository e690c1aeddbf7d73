/**
 * Prompt tokens of an OpenAI Chat Completions request body, the engine's canonical request shape.
 *
 * Exact for OpenAI models (equal to OpenAI's own prompt_tokens) for messages of text: OpenAI's published recipe
 * (openai-cookbook, "How to count tokens with tiktoken") gives each message 3 tokens of framing plus its role
 * and content, a name 1 more, and primes the reply with 3. Estimated, and documented as such, for the parts
 * OpenAI does not publish a rule for:
 *
 * - function/tool definitions: rendered the way OpenAI feeds them to the model (a TypeScript-like
 *   `namespace functions { … }` in the system message, as reverse-engineered by hmarr/openai-chat-tokens and
 *   adopted by gpt-tokenizer's `countChatCompletionTokens`) plus 9 tokens, minus 4 when a system message
 *   absorbs them. This reproduces the API's count for the cookbook's tool example (101 tokens on gpt-4o,
 *   105 on gpt-4), but schema constructs outside that rendering (anyOf, $ref, $defs…) are guesses.
 * - tool calls in assistant messages: name + arguments + 3 each (the recipe's function_call rule);
 *   tool results are ordinary messages. Parallel calls may be framed slightly differently by OpenAI.
 * - a forced tool_choice: the name + 4 ("none": 1), as gpt-tokenizer counts a forced function_call.
 * - response_format json_schema: the schema's JSON plus its name and 10 tokens (a guess; JSON is longer than
 *   the rendering OpenAI likely uses, so it over-counts).
 * - images, audio, files: see media.ts.
 * - content given as several text parts: each part is counted on its own (OpenAI's joining is not published).
 *
 * For other families the same shape is counted with cl100k_base, tools as their JSON (plus the tool-use system
 * prompt Anthropic documents), and the total is multiplied by the family margin (tokens.ts).
 */
import { audioTokens, fileTokens, imageTokens } from './media.js';
import { applyMargin, countEncodedTokens, type EncodingChoice, encodingFor } from './tokens.js';

type JsonObject = Record<string, unknown>;

const MESSAGE_TOKENS = 3;
const NAME_TOKENS = 1;
const REPLY_PRIMING_TOKENS = 3;
const TOOL_CALL_TOKENS = 3;
const FUNCTION_ROLE_DISCOUNT = 2; // legacy role "function" messages are framed 2 tokens shorter
const FUNCTION_DEFINITIONS_TOKENS = 9;
const SYSTEM_WITH_FUNCTIONS_DISCOUNT = 4;
const TOOL_CHOICE_NONE_TOKENS = 1;
const TOOL_CHOICE_NAMED_TOKENS = 4;
const RESPONSE_FORMAT_TOKENS = 10;
/**
 * Anthropic adds a tool-use system prompt whenever tools are sent; its "tool use pricing" page lists the size per
 * model and tool_choice (159-530 tokens for the Claude 3 models, a few hundred for later ones). The largest
 * listed value is used, once per Claude request with tools, before the margin.
 */
const ANTHROPIC_TOOL_PROMPT_TOKENS = 530;

function asObject(value: unknown): JsonObject | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

function asString(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export type Count = (text: string) => number;

/**
 * Prompt tokens of a Chat Completions request body for `model`: exact for OpenAI models where the module doc
 * says so, estimated (and, for other families, margined to over-count) elsewhere. Never throws on odd input:
 * fields of the wrong type count as absent.
 */
export function countChatPromptTokens(body: Record<string, unknown>, model: string): number {
  const choice = encodingFor(model);
  return applyMargin(promptTokensWith(body, choice, (text) => countEncodedTokens(text, choice.encoding)), choice);
}

/**
 * The prompt's tokens before the family margin, with `count` counting each piece of text. The total is the
 * structure's own tokens plus the sum of `count` over the texts, so the texts can also be counted elsewhere
 * (see `countChatPromptTokensAsync`).
 */
export function promptTokensWith(body: Record<string, unknown>, choice: EncodingChoice, count: Count): number {
  const { functions, otherTools } = toolDefinitions(body);
  const hasFunctions = functions.length > 0;

  let total = REPLY_PRIMING_TOKENS;
  let sawSystem = false;
  for (const entry of asArray(body.messages)) {
    const message = asObject(entry);
    if (!message) continue;
    // OpenAI appends the function namespace to the first system message, which then ends in a newline.
    const padSystem = message.role === 'system' && !sawSystem && hasFunctions;
    if (message.role === 'system') sawSystem = true;
    total += messageTokens(message, padSystem, choice, count);
  }

  if (choice.exact) {
    if (hasFunctions) {
      total += count(renderFunctions(functions)) + FUNCTION_DEFINITIONS_TOKENS;
      if (sawSystem) total -= SYSTEM_WITH_FUNCTIONS_DISCOUNT;
    }
    for (const tool of otherTools) total += count(JSON.stringify(tool));
  } else if (hasFunctions || otherTools.length > 0) {
    total += count(JSON.stringify([...functions, ...otherTools]));
    if (choice.family === 'anthropic') total += ANTHROPIC_TOOL_PROMPT_TOKENS;
  }

  total += toolChoiceTokens(body.tool_choice ?? body.function_call, count);
  total += responseFormatTokens(body.response_format, count);
  return total;
}

function messageTokens(message: JsonObject, padSystem: boolean, choice: EncodingChoice, count: Count): number {
  const role = asString(message.role);
  let tokens = MESSAGE_TOKENS + count(role);
  const content = message.content;
  if (typeof content === 'string') {
    tokens += count(padSystem && content.length > 0 && !content.endsWith('\n') ? `${content}\n` : content);
  } else {
    for (const part of asArray(content)) tokens += partTokens(part, choice, count);
  }
  const name = asString(message.name);
  if (name) tokens += count(name) + NAME_TOKENS;
  const legacyCall = asObject(message.function_call);
  if (legacyCall) tokens += callTokens(legacyCall, count);
  for (const call of asArray(message.tool_calls)) {
    const fn = asObject(asObject(call)?.function);
    if (fn) tokens += callTokens(fn, count);
  }
  if (role === 'function') tokens -= FUNCTION_ROLE_DISCOUNT;
  return tokens;
}

function callTokens(fn: JsonObject, count: Count): number {
  return count(asString(fn.name)) + count(asString(fn.arguments)) + TOOL_CALL_TOKENS;
}

function partTokens(entry: unknown, choice: EncodingChoice, count: Count): number {
  if (typeof entry === 'string') return count(entry);
  const part = asObject(entry);
  if (!part) return 0;
  switch (part.type) {
    case 'text':
      return count(asString(part.text));
    case 'refusal':
      return count(asString(part.refusal));
    case 'image_url': {
      const image = asObject(part.image_url);
      return imageTokens(image ? asString(image.url) : asString(part.image_url), image?.detail, choice.exact);
    }
    case 'input_audio':
      return audioTokens(asObject(part.input_audio));
    case 'file':
      return fileTokens(asObject(part.file));
    default:
      // An unknown part type: its JSON is an over-count of whatever the model sees.
      return count(JSON.stringify(part));
  }
}

/** `functions` (legacy) and `tools` of type function, as function definitions; any other tool, as is. */
function toolDefinitions(body: JsonObject): { functions: JsonObject[]; otherTools: JsonObject[] } {
  const functions: JsonObject[] = [];
  const otherTools: JsonObject[] = [];
  for (const fn of asArray(body.functions)) {
    const definition = asObject(fn);
    if (definition) functions.push(definition);
  }
  for (const entry of asArray(body.tools)) {
    const tool = asObject(entry);
    if (!tool) continue;
    const definition = tool.type === 'function' ? asObject(tool.function) : undefined;
    if (definition) functions.push(definition);
    else otherTools.push(tool);
  }
  return { functions, otherTools };
}

function toolChoiceTokens(toolChoice: unknown, count: Count): number {
  // "required" has no published cost; it is counted like "none" rather than as free.
  if (toolChoice === 'none' || toolChoice === 'required') return TOOL_CHOICE_NONE_TOKENS;
  const forced = asObject(toolChoice);
  if (!forced) return 0;
  const name = asString(asObject(forced.function)?.name) || asString(forced.name);
  return name ? count(name) + TOOL_CHOICE_NAMED_TOKENS : 0;
}

function responseFormatTokens(responseFormat: unknown, count: Count): number {
  const format = asObject(responseFormat);
  if (format?.type !== 'json_schema') return 0;
  const spec = asObject(format.json_schema) ?? {};
  const schema = JSON.stringify(spec.schema ?? {});
  return count(schema) + count(asString(spec.name)) + count(asString(spec.description)) + RESPONSE_FORMAT_TOKENS;
}

/**
 * The function definitions as OpenAI's models see them. Within the JSON-Schema subset the reverse-engineered
 * rendering covers (object/array/string/number/integer/boolean/null, enums, required, top-level descriptions)
 * this is that rendering, character for character; beyond it (unions, $ref, const, $defs) it renders something
 * at least as long as the schema's meaning rather than OpenAI's unknown form, so it errs towards over-counting.
 */
export function renderFunctions(functions: readonly JsonObject[]): string {
  const lines = ['namespace functions {', ''];
  for (const fn of functions) {
    const name = asString(fn.name);
    const description = asString(fn.description);
    if (description) lines.push(`// ${description}`);
    const parameters = asObject(fn.parameters);
    const properties = asObject(parameters?.properties);
    if (!parameters || !properties || Object.keys(properties).length === 0) {
      lines.push(`type ${name} = () => any;`);
    } else {
      lines.push(`type ${name} = (_: {`);
      const rendered = renderProperties(parameters, 0);
      if (rendered.length > 0) lines.push(rendered);
      lines.push('}) => any;');
    }
    const definitions = parameters?.$defs ?? parameters?.definitions;
    if (definitions !== undefined) lines.push(`// ${JSON.stringify(definitions)}`);
    lines.push('');
  }
  lines.push('} // namespace functions');
  return lines.join('\n');
}

function renderProperties(schema: JsonObject, indent: number): string {
  const properties = asObject(schema.properties);
  if (!properties) return '';
  const required = new Set(asArray(schema.required));
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  for (const [key, value] of Object.entries(properties)) {
    const property = asObject(value) ?? {};
    const description = asString(property.description);
    if (description && indent < 2) lines.push(`${pad}// ${description}`);
    lines.push(`${pad}${key}${required.has(key) ? '' : '?'}: ${renderType(property, indent)},`);
  }
  return lines.join('\n');
}

function renderType(schema: JsonObject, indent: number): string {
  const type = schema.type;
  const enumValues = Array.isArray(schema.enum) ? schema.enum : undefined;
  switch (type) {
    case 'string':
      return enumValues?.map((value) => JSON.stringify(value)).join(' | ') ?? 'string';
    case 'integer':
    case 'number':
      return enumValues?.map((value) => `${value}`).join(' | ') ?? 'number';
    case 'boolean':
    case 'null':
      return type;
    case 'array': {
      const items = asObject(schema.items);
      return items ? `${renderType(items, indent)}[]` : 'any[]';
    }
    case 'object':
      return `{\n${renderProperties(schema, indent + 2)}\n${' '.repeat(indent)}}`;
  }
  // Beyond the known rendering.
  if (Array.isArray(type)) return type.map((t) => renderType({ ...schema, type: t }, indent)).join(' | ');
  const union = asArray(schema.anyOf ?? schema.oneOf);
  if (union.length > 0) return union.map((s) => renderType(asObject(s) ?? {}, indent)).join(' | ');
  const all = asArray(schema.allOf);
  if (all.length > 0) return all.map((s) => renderType(asObject(s) ?? {}, indent)).join(' & ');
  if (enumValues) return enumValues.map((value) => JSON.stringify(value)).join(' | ');
  if ('const' in schema) return JSON.stringify(schema.const) ?? 'any';
  if (typeof schema.$ref === 'string') return schema.$ref.slice(schema.$ref.lastIndexOf('/') + 1) || 'any';
  if (asObject(schema.properties)) return renderType({ ...schema, type: 'object' }, indent);
  return 'any';
}
