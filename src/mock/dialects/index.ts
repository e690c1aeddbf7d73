/** Every dialect the mock speaks; a new dialect adds its routes here. */
import { anthropicRoutes } from './anthropic/routes.js';
import { bedrockRoutes } from './bedrock.js';
import type { DialectRoute } from './dialect.js';
import { geminiRoutes } from './gemini/routes.js';
import { mistralRoutes } from './mistral.js';
import { openaiRoutes } from './openai/routes.js';
import { responsesRoute } from './openai/responses.js';

export const DIALECT_ROUTES: readonly DialectRoute[] = [
  ...openaiRoutes,
  ...anthropicRoutes,
  ...bedrockRoutes,
  ...geminiRoutes,
  responsesRoute,
  ...mistralRoutes,
];
