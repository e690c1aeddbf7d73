/** The Anthropic dialect's route on the mock: `POST /v1/messages` (the Messages API). */
import { checkMessages } from './check.js';
import { anthropicErrorBody, anthropicFaults, messagesReply } from './answers.js';
import type { DialectRoute } from '../route.js';

export const anthropicRoutes: DialectRoute[] = [
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
