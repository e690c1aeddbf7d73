/** The Anthropic dialect's route on the mock: `POST /v1/messages` (the Messages API). */
import { checkMessages } from './check.js';
import { anthropicErrorBody, anthropicFaults, anthropicModelsBody, messagesReply } from './answers.js';
import type { DialectRoute } from '../route.js';

export const anthropicRoutes: DialectRoute[] = [
  {
    // Models API: `GET /v1/models`, told from OpenAI's by the `anthropic-version` header every Anthropic client sends.
    kind: 'plain',
    method: 'GET',
    path: /^\/v1\/models$/,
    accepts: (headers) => headers['anthropic-version'] !== undefined,
    errorBody: anthropicErrorBody,
    responseHeaders: (ctx) => ({ 'request-id': `req_mock_${ctx.n}` }),
    body: () => anthropicModelsBody(),
    listing: anthropicFaults,
  },
  {
    kind: 'model',
    method: 'POST',
    path: /^\/v1\/messages$/,
    errorBody: anthropicErrorBody,
    faults: anthropicFaults,
    responseHeaders: (ctx) => ({ 'request-id': `req_mock_${ctx.n}` }),
    handle(body, ctx) {
      const { stream } = checkMessages(body);
      return { stream, reply: messagesReply(body, { n: ctx.n, reply: ctx.reply }) };
    },
  },
];
