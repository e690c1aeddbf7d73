/** The OpenAI dialect's routes on the mock: chat completions, embeddings, model listings. */
import type { DialectRoute } from './dialect.js';
import { chatReply, checkChat, embeddingsReply, errorBody, modelBody, modelsBody, openaiFaults } from './openai.js';

export const openaiRoutes: DialectRoute[] = [
  {
    kind: 'model',
    method: 'POST',
    path: /^\/v1\/chat\/completions$/,
    errorBody,
    faults: openaiFaults,
    handle(body, ctx) {
      const { stream } = checkChat(body);
      return { stream, reply: chatReply(body, { n: ctx.n, reply: ctx.reply }) };
    },
  },
  {
    kind: 'model',
    method: 'POST',
    path: /^\/v1\/embeddings$/,
    errorBody,
    faults: openaiFaults,
    handle: (body) => ({ stream: false, reply: embeddingsReply(body) }),
  },
  // Azure OpenAI puts the same API under deployment paths (`?api-version=` is ignored here).
  {
    kind: 'model',
    method: 'POST',
    path: /^\/openai\/deployments\/[^/]+\/chat\/completions$/,
    errorBody,
    faults: openaiFaults,
    handle(body, ctx) {
      const { stream } = checkChat(body);
      return { stream, reply: chatReply(body, { n: ctx.n, reply: ctx.reply }) };
    },
  },
  {
    kind: 'model',
    method: 'POST',
    path: /^\/openai\/deployments\/[^/]+\/embeddings$/,
    errorBody,
    faults: openaiFaults,
    handle: (body) => ({ stream: false, reply: embeddingsReply(body) }),
  },
  { kind: 'plain', method: 'GET', path: /^\/v1\/models$/, errorBody, body: () => modelsBody() },
  {
    kind: 'plain',
    method: 'GET',
    path: /^\/v1\/models\/(.+)$/,
    errorBody,
    body: (ctx) => modelBody(decodeURIComponent(ctx.match[1] ?? '')),
  },
];
