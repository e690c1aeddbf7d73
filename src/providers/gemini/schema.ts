/**
 * JSON Schema (what OpenAI clients send for tool parameters and `json_schema` response formats) → Gemini's
 * `Schema`, a subset of OpenAPI 3.0. Only schemas that fit the subset are converted; anything else goes to
 * Gemini's `parametersJsonSchema` / `responseJsonSchema` fields as is, which take full JSON Schema.
 */

type Json = Record<string, unknown>;

/** The fields of Gemini's `Schema` object. */
const GEMINI_SCHEMA_KEYS = new Set([
  'type',
  'format',
  'title',
  'description',
  'nullable',
  'enum',
  'maxItems',
  'minItems',
  'properties',
  'required',
  'minProperties',
  'maxProperties',
  'minLength',
  'maxLength',
  'pattern',
  'example',
  'anyOf',
  'propertyOrdering',
  'default',
  'items',
  'minimum',
  'maximum',
]);

const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object']);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The schema in Gemini's subset, or undefined when it uses what the subset cannot say (`$ref`, `oneOf`,
 * `const`, open `additionalProperties`, non-string enums, several types). `additionalProperties: false`, which
 * OpenAI's strict mode requires everywhere, is dropped: Gemini rejects the key and never invents properties.
 */
export function toGeminiSchema(schema: unknown): Json | undefined {
  if (!isObject(schema)) return undefined;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$schema') continue;
    if (key === 'additionalProperties') {
      if (value === false) continue;
      return undefined;
    }
    if (!GEMINI_SCHEMA_KEYS.has(key)) return undefined;
    const converted = convertField(key, value);
    if (converted === undefined) return undefined;
    Object.assign(out, converted);
  }
  return out;
}

/** One field of a schema in Gemini's subset, as the fields to merge into the result; undefined if impossible. */
function convertField(key: string, value: unknown): Json | undefined {
  switch (key) {
    case 'type':
      return convertType(value);
    case 'properties': {
      if (!isObject(value)) return undefined;
      const properties: Json = {};
      for (const [name, sub] of Object.entries(value)) {
        const converted = toGeminiSchema(sub);
        if (!converted) return undefined;
        properties[name] = converted;
      }
      return { properties };
    }
    case 'items': {
      const items = toGeminiSchema(value);
      return items && { items };
    }
    case 'anyOf': {
      if (!Array.isArray(value)) return undefined;
      const anyOf = value.map(toGeminiSchema);
      return anyOf.every((s) => s !== undefined) ? { anyOf } : undefined;
    }
    case 'enum':
      return Array.isArray(value) && value.every((v) => typeof v === 'string') ? { enum: value } : undefined;
    default:
      return { [key]: value };
  }
}

/** `"string"`, or `["string", "null"]` → `type: "string", nullable: true`. */
function convertType(value: unknown): Json | undefined {
  if (typeof value === 'string') return TYPES.has(value) ? { type: value } : undefined;
  if (!Array.isArray(value)) return undefined;
  const types = value.filter((t) => t !== 'null');
  if (types.length !== 1 || typeof types[0] !== 'string' || !TYPES.has(types[0])) return undefined;
  return types.length < value.length ? { type: types[0], nullable: true } : { type: types[0] };
}

/**
 * A function's parameters as Gemini wants them: `parameters` in the subset when possible, omitted for an object
 * without properties (Gemini rejects an OBJECT with no properties), else `parametersJsonSchema`.
 */
export function functionParameters(parameters: unknown): Json {
  if (parameters === undefined || parameters === null) return {};
  const converted = toGeminiSchema(parameters);
  if (!converted) return { parametersJsonSchema: parameters };
  const props = converted.properties;
  if (converted.type === 'object' && (!isObject(props) || Object.keys(props).length === 0)) return {};
  return { parameters: converted };
}

/** A `json_schema` response format: `responseSchema` in the subset when possible, else `responseJsonSchema`. */
export function responseSchema(schema: unknown): Json {
  if (schema === undefined) return {};
  const converted = toGeminiSchema(schema);
  return converted ? { responseSchema: converted } : { responseJsonSchema: schema };
}
