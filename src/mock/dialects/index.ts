/**
 * Every dialect the mock speaks: its routes (a new dialect adds them here), and, for `MockServer.answerFor`, how
 * the OpenAI, Anthropic and Bedrock routes read the answer text from a body.
 */
import { anthropicRoutes } from './anthropic/routes.js';
import { messagesAnswer } from './anthropic/answers.js';
import { bedrockRoutes, converseAnswer } from './bedrock.js';
import { geminiRoutes } from './gemini/routes.js';
import { mistralRoutes } from './mistral.js';
import { chatAnswer } from './openai/answers.js';
import { openaiRoutes } from './openai/routes.js';
import { responsesRoute } from './openai/responses.js';
import type { DialectRoute } from './route.js';

// Anthropic's first: its `GET /v1/models` (asked with `anthropic-version`) shares the path with OpenAI's.
export const DIALECT_ROUTES: readonly DialectRoute[] = [
  ...anthropicRoutes,
  ...openaiRoutes,
  ...bedrockRoutes,
  ...geminiRoutes,
  responsesRoute,
  ...mistralRoutes,
];

/** The request shapes `MockServer.answerFor` reads. */
export type MockDialect = 'openai' | 'anthropic' | 'bedrock';

/** The answer text the route of each dialect gives a body (null text: the answer is a tool call). */
export const DIALECT_ANSWERS: Readonly<Record<MockDialect, (body: unknown, reply: string) => { text: string | null }>> = {
  openai: chatAnswer,
  anthropic: messagesAnswer,
  bedrock: converseAnswer,
};
