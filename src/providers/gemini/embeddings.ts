/**
 * OpenAI embeddings ⇄ Gemini `batchEmbedContents`: one request per input text, `dimensions` →
 * `outputDimensionality`; the answer's `embeddings[i].values` → `data[i].embedding`.
 */
import { malformed } from '../shared/errors.js';
import { badRequest } from './request.js';
import { parseJsonObject } from './response.js';
import type { Deployment } from '../../types.js';

type Json = Record<string, unknown>;

/** `models/<name>` as Gemini names a model inside a request body. */
export function modelResource(model: string): string {
  return model.startsWith('models/') ? model : `models/${model}`;
}

export function buildGeminiEmbeddings(body: Json, d: Deployment): Json {
  const input = body.input;
  const texts = typeof input === 'string' ? [input] : Array.isArray(input) ? input : undefined;
  if (!texts || texts.length === 0) throw badRequest(d, "'input' must be a string or a non-empty array of strings", 'input');
  if (!texts.every((t): t is string => typeof t === 'string')) {
    throw badRequest(d, 'Gemini embeds text only; token arrays are not supported', 'input');
  }
  const dims = body.dimensions;
  if (dims !== undefined && (!Number.isInteger(dims) || (dims as number) < 1)) {
    throw badRequest(d, "'dimensions' must be a positive integer", 'dimensions');
  }
  const model = modelResource(d.model);
  const requests = texts.map((text) => ({
    model,
    content: { parts: [{ text }] },
    ...(dims === undefined ? {} : { outputDimensionality: dims }),
  }));
  return { requests };
}

/** OpenAI's base64 embedding: the float32 little-endian bytes of the vector. The official SDKs ask for it by default. */
function base64Floats(values: number[]): string {
  const bytes = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) bytes.writeFloatLE(values[i]!, i * 4);
  return bytes.toString('base64');
}

/** Rough prompt tokens for usage when the upstream reports none (≈ 4 characters a token). */
function estimateInputTokens(input: unknown): number {
  const texts = Array.isArray(input) ? input : [input];
  const chars = texts.reduce((n: number, t) => n + (typeof t === 'string' ? t.length : 0), 0);
  return Math.ceil(chars / 4);
}

export function toEmbeddingsResponse(bodyText: string, d: Deployment, request?: Json): string {
  const base64 = request?.encoding_format === 'base64';
  const response = parseJsonObject(bodyText, d);
  const embeddings = response.embeddings;
  if (!Array.isArray(embeddings)) throw malformed(d, 'JSON without an "embeddings" array');
  const data = embeddings.map((e: unknown, index) => {
    const values = e && typeof e === 'object' ? (e as Json).values : undefined;
    if (!Array.isArray(values)) throw malformed(d, `an embedding without "values" at ${index}`);
    return { object: 'embedding', index, embedding: base64 ? base64Floats(values as number[]) : values };
  });
  // batchEmbedContents reports no token counts; estimate from the input so usage is never 0.
  const meta = response.usageMetadata as Json | undefined;
  const tokens = typeof meta?.promptTokenCount === 'number' ? meta.promptTokenCount : estimateInputTokens(request?.input);
  return JSON.stringify({ object: 'list', data, model: d.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
}
