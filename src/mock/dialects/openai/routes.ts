/** The OpenAI dialect's routes on the mock: chat completions, embeddings, model listings (and Azure's paths). */
import type { DialectRoute } from '../route.js';
import { chatReply, checkChat, embeddingsReply, errorBody, modelBody, modelsBody, openaiFaults } from './answers.js';

function chatRoute(path: RegExp): DialectRoute {
  return {
    kind: 'model',
    method: 'POST',
    path,
    errorBody,
    faults: openaiFaults,
    handle(body, ctx) {
      const { stream } = checkChat(body);
      return { stream, reply: chatReply(body, { n: ctx.n, reply: ctx.reply }) };
    },
  };
}

function embeddingsRoute(path: RegExp): DialectRoute {
  return { kind: 'model', method: 'POST', path, errorBody, faults: openaiFaults, handle: (body) => ({ stream: false, reply: embeddingsReply(body) }) };
}

export const openaiRoutes: DialectRoute[] = [
  chatRoute(/^\/v1\/chat\/completions$/),
  embeddingsRoute(/^\/v1\/embeddings$/),
  // Azure OpenAI puts the same API under deployment paths (`?api-version=` is ignored here).
  chatRoute(/^\/openai\/deployments\/[^/]+\/chat\/completions$/),
  embeddingsRoute(/^\/openai\/deployments\/[^/]+\/embeddings$/),
  { kind: 'plain', method: 'GET', path: /^\/v1\/models$/, errorBody, body: () => modelsBody(), listing: openaiFaults },
  // Azure OpenAI's "Models - List" (`?api-version=` is ignored here).
  { kind: 'plain', method: 'GET', path: /^\/openai\/models$/, errorBody, body: () => modelsBody(), listing: openaiFaults },
  {
    kind: 'plain',
    method: 'GET',
    path: /^\/v1\/models\/(.+)$/,
    errorBody,
    body: (ctx) => modelBody(decodeURIComponent(ctx.match[1] ?? '')),
  },
];
