import type { Config } from '../config/types.js';
import { countChatPromptTokensAsync } from '../context/index.js';
import type { Route } from '../routing/routes.js';
import { parseAnthropicCountRequest } from './dialects/anthropic/request.js';
import { checkModelLimit, parseJsonObject, readRequestBody } from './body.js';
import { lookupRoute } from './model-request.js';
import type { Handler, Responder } from './respond.js';

export interface CountTokensDeps {
  config: Config;
  routes: ReadonlyMap<string, Route>;
  respond: Responder;
}

/**
 * `POST /v1/messages/count_tokens` (Anthropic's `messages.countTokens`), answered offline: the request is validated
 * and translated as `/v1/messages` does it, and its prompt counted with the tokenizer of the model's first
 * deployment (exact for OpenAI models, a margined estimate for others), as the context-window checks count it. No
 * upstream is called. The count runs in slices, so a huge prompt does not hold the event loop.
 */
export function countTokensHandler({ config, routes, respond }: CountTokensDeps): Handler {
  return async (ex, ctx) => {
    const raw = await readRequestBody(ex, ctx, config.server);
    if (ctx.stopped) return;
    const { model, canonical } = parseAnthropicCountRequest(parseJsonObject(raw));
    ctx.model = model;
    const route = lookupRoute(routes, model);
    checkModelLimit(model, route.model.max_request_bytes, raw.length);
    const deployment = route.targets[0]?.deployment.model ?? model;
    const tokens = await countChatPromptTokensAsync(canonical, deployment);
    if (ctx.stopped || ex.signal.aborted) return;
    respond.json(ex, ctx, 200, JSON.stringify({ input_tokens: tokens }), { 'request-id': ctx.requestId });
  };
}
