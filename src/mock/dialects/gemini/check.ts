/**
 * Request checks of the mock's Gemini dialect: what the real API rejects with 400 INVALID_ARGUMENT (unknown
 * fields, missing or empty contents, bad roles, empty text, schema keys outside Gemini's OpenAPI subset), so a
 * translator that sends nonsense fails here as it would against Google. Accepts camelCase and snake_case field
 * names, as the real API does.
 */
import { InvalidRequest } from '../route.js';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads a field by its camelCase name or its snake_case twin. */
export function field(o: Json, camel: string): unknown {
  return o[camel] ?? o[camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];
}

const REQUEST_FIELDS = ['contents', 'systemInstruction', 'tools', 'toolConfig', 'generationConfig', 'safetySettings', 'cachedContent', 'model'];
const GENERATION_FIELDS = [
  'temperature', 'topP', 'topK', 'maxOutputTokens', 'stopSequences', 'candidateCount', 'responseMimeType',
  'responseSchema', 'responseJsonSchema', 'presencePenalty', 'frequencyPenalty', 'seed', 'responseLogprobs',
  'logprobs', 'thinkingConfig', 'responseModalities', 'mediaResolution',
];
const PART_DATA = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode', 'codeExecutionResult'];
const PART_FIELDS = [...PART_DATA, 'thought', 'thoughtSignature', 'videoMetadata'];
const SCHEMA_FIELDS = [
  'type', 'format', 'title', 'description', 'nullable', 'enum', 'maxItems', 'minItems', 'properties', 'required',
  'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'example', 'anyOf', 'propertyOrdering',
  'default', 'items', 'minimum', 'maximum',
];
const SNAKE = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Google's wording for a field it does not know. */
function unknownFields(o: Json, known: readonly string[], at: string): void {
  const allowed = new Set([...known, ...known.map(SNAKE)]);
  for (const key of Object.keys(o)) {
    if (!allowed.has(key)) {
      throw new InvalidRequest(`Invalid JSON payload received. Unknown name "${key}"${at ? ` at '${at}'` : ''}: Cannot find field.`, at || key);
    }
  }
}

function checkSchema(schema: unknown, at: string): void {
  if (!isObject(schema)) throw new InvalidRequest(`* ${at}: must be an object`, at);
  unknownFields(schema, SCHEMA_FIELDS, at);
  if (isObject(schema.properties)) {
    for (const [name, sub] of Object.entries(schema.properties)) checkSchema(sub, `${at}.properties[${name}]`);
  }
  if (schema.items !== undefined) checkSchema(schema.items, `${at}.items`);
  if (Array.isArray(schema.anyOf)) {
    schema.anyOf.forEach((s, i) => {
      checkSchema(s, `${at}.any_of[${i}]`);
    });
  }
  const props = schema.properties;
  if (String(schema.type).toLowerCase() === 'object' && at.endsWith('parameters') && (!isObject(props) || Object.keys(props).length === 0)) {
    throw new InvalidRequest(`* GenerateContentRequest.${at}.properties: should be non-empty for OBJECT type`, at);
  }
}

function checkParts(parts: unknown, at: string): void {
  if (!Array.isArray(parts) || parts.length === 0) {
    throw new InvalidRequest(`* GenerateContentRequest.${at}.parts: contents.parts must not be empty.`, `${at}.parts`);
  }
  parts.forEach((part, j) => {
    const where = `${at}.parts[${j}]`;
    if (!isObject(part)) throw new InvalidRequest(`* GenerateContentRequest.${where}: must be an object`, where);
    unknownFields(part, PART_FIELDS, where);
    const data = PART_DATA.filter((k) => field(part, k) !== undefined);
    if (data.length !== 1) throw new InvalidRequest(`* GenerateContentRequest.${where}.data: required oneof field 'data' must have one initialized field`, where);
    if (part.text === '') throw new InvalidRequest('Unable to submit request because it has an empty text parameter. Add a value to the parameter and try again.', where);
    const call = field(part, 'functionCall');
    if (call !== undefined && (!isObject(call) || typeof call.name !== 'string' || (call.args !== undefined && !isObject(call.args)))) {
      throw new InvalidRequest(`* GenerateContentRequest.${where}.function_call: name and object args required`, where);
    }
    const response = field(part, 'functionResponse');
    if (response !== undefined && (!isObject(response) || typeof response.name !== 'string' || !isObject(response.response))) {
      throw new InvalidRequest(`* GenerateContentRequest.${where}.function_response: name and object response required`, where);
    }
  });
}

function checkTools(tools: unknown): void {
  if (tools === undefined) return;
  if (!Array.isArray(tools)) throw new InvalidRequest('* GenerateContentRequest.tools: must be a list', 'tools');
  tools.forEach((tool, i) => {
    const declarations = isObject(tool) ? field(tool, 'functionDeclarations') : undefined;
    if (declarations === undefined) return;
    if (!Array.isArray(declarations)) throw new InvalidRequest(`* GenerateContentRequest.tools[${i}].function_declarations: must be a list`);
    declarations.forEach((f, j) => {
      const at = `tools[${i}].function_declarations[${j}]`;
      if (!isObject(f) || typeof f.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/.test(f.name)) {
        throw new InvalidRequest(`* GenerateContentRequest.${at}.name: Invalid function name.`, at);
      }
      if (f.parameters !== undefined) checkSchema(f.parameters, `${at}.parameters`);
    });
  });
}

const MODES = new Set(['AUTO', 'ANY', 'NONE', 'VALIDATED', 'MODE_UNSPECIFIED']);

/** Checks a generateContent / streamGenerateContent body; throws InvalidRequest as the real API would refuse it. */
export function checkGenerate(body: unknown): Json {
  if (!isObject(body)) throw new InvalidRequest('Invalid JSON payload received. Expected an object.');
  unknownFields(body, REQUEST_FIELDS, '');
  const contents = body.contents;
  if (!Array.isArray(contents) || contents.length === 0) {
    throw new InvalidRequest('* GenerateContentRequest.contents: contents is not specified', 'contents');
  }
  contents.forEach((c, i) => {
    if (!isObject(c)) throw new InvalidRequest(`* GenerateContentRequest.contents[${i}]: must be an object`, `contents[${i}]`);
    if (c.role !== undefined && c.role !== 'user' && c.role !== 'model' && c.role !== 'function') {
      throw new InvalidRequest('Please use a valid role: user, model.', `contents[${i}].role`);
    }
    checkParts(c.parts, `contents[${i}]`);
  });
  const system = field(body, 'systemInstruction');
  if (system !== undefined) {
    if (!isObject(system)) throw new InvalidRequest('* GenerateContentRequest.system_instruction: must be an object', 'system_instruction');
    checkParts(system.parts, 'system_instruction');
  }
  checkTools(body.tools);
  const toolConfig = field(body, 'toolConfig');
  const calling = isObject(toolConfig) ? field(toolConfig, 'functionCallingConfig') : undefined;
  if (isObject(calling) && calling.mode !== undefined && !MODES.has(String(calling.mode))) {
    throw new InvalidRequest(`Invalid value at 'tool_config.function_calling_config.mode' (${String(calling.mode)})`, 'tool_config');
  }
  const config = field(body, 'generationConfig');
  if (config !== undefined) {
    if (!isObject(config)) throw new InvalidRequest('* GenerateContentRequest.generation_config: must be an object', 'generation_config');
    unknownFields(config, GENERATION_FIELDS, 'generation_config');
    const schema = field(config, 'responseSchema');
    if (schema !== undefined) checkSchema(schema, 'generation_config.response_schema');
  }
  return body;
}

/** Checks a batchEmbedContents body for `models/<model>`; returns the texts and the requested dimensions. */
export function checkBatchEmbed(body: unknown, model: string): { texts: string[]; dims: number | undefined } {
  if (!isObject(body)) throw new InvalidRequest('Invalid JSON payload received. Expected an object.');
  unknownFields(body, ['requests'], '');
  const requests = body.requests;
  if (!Array.isArray(requests) || requests.length === 0) {
    throw new InvalidRequest('* BatchEmbedContentsRequest.requests: requests must not be empty', 'requests');
  }
  let dims: number | undefined;
  const texts = requests.map((r, i) => {
    const at = `requests[${i}]`;
    if (!isObject(r)) throw new InvalidRequest(`* BatchEmbedContentsRequest.${at}: must be an object`, at);
    unknownFields(r, ['model', 'content', 'taskType', 'title', 'outputDimensionality'], at);
    if (r.model !== `models/${model}`) {
      throw new InvalidRequest(`* BatchEmbedContentsRequest.${at}.model: the model must be models/${model}, as in the URL`, `${at}.model`);
    }
    const content = r.content;
    if (!isObject(content)) throw new InvalidRequest(`* BatchEmbedContentsRequest.${at}.content: content is not specified`, `${at}.content`);
    checkParts(content.parts, `${at}.content`);
    const d = field(r, 'outputDimensionality');
    if (d !== undefined && (!Number.isInteger(d) || (d as number) < 1 || (d as number) > 3072)) {
      throw new InvalidRequest(`* BatchEmbedContentsRequest.${at}.output_dimensionality: must be from 1 to 3072`, `${at}.output_dimensionality`);
    }
    if (d !== undefined) dims = d as number;
    return (content.parts as Json[]).map((p) => (typeof p.text === 'string' ? p.text : '')).join('');
  });
  return { texts, dims };
}
