/** Every dialect the mock speaks; a new dialect adds its routes here. */
import type { DialectRoute } from './dialect.js';
import { openaiRoutes } from './openai-routes.js';
import { responsesRoute } from './openai-responses.js';

export const DIALECT_ROUTES: readonly DialectRoute[] = [
  ...openaiRoutes,
  responsesRoute,
];
