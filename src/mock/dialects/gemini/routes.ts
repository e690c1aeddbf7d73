/**
 * The Gemini dialect's routes on the mock, under `/v1beta/models/{model}:{method}`. The key arrives as the
 * `x-goog-api-key` header (recorded like every header); `alt=sse` picks SSE over the JSON-array stream.
 */
import type { DialectRoute } from '../route.js';
import { batchEmbedReply, generateReply, geminiErrorBody, geminiFaults, geminiModelsBody } from './answers.js';
import { checkGenerate } from './check.js';

const modelPath = (method: string) => new RegExp(`^/v1beta/models/([^/:]+):${method}$`);

export const geminiRoutes: DialectRoute[] = [
  { kind: 'plain', method: 'GET', path: /^\/v1beta\/models$/, errorBody: geminiErrorBody, body: () => geminiModelsBody(), listing: geminiFaults },
  {
    kind: 'model',
    method: 'POST',
    path: modelPath('generateContent'),
    errorBody: geminiErrorBody,
    faults: geminiFaults,
    handle(body, ctx) {
      const model = decodeURIComponent(ctx.match[1] ?? '');
      return { stream: false, reply: generateReply(checkGenerate(body), { n: ctx.n, reply: ctx.reply, model, stream: false }) };
    },
  },
  {
    kind: 'model',
    method: 'POST',
    path: modelPath('streamGenerateContent'),
    errorBody: geminiErrorBody,
    faults: geminiFaults,
    handle(body, ctx) {
      const model = decodeURIComponent(ctx.match[1] ?? '');
      const stream = ctx.query.get('alt') === 'sse' ? 'sse' : 'array';
      return { stream: stream === 'sse', reply: generateReply(checkGenerate(body), { n: ctx.n, reply: ctx.reply, model, stream }) };
    },
  },
  {
    kind: 'model',
    method: 'POST',
    path: modelPath('batchEmbedContents'),
    errorBody: geminiErrorBody,
    faults: geminiFaults,
    handle: (body, ctx) => ({ stream: false, reply: batchEmbedReply(body, decodeURIComponent(ctx.match[1] ?? '')) }),
  },
];
