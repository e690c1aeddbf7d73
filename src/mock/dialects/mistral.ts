/**
 * Mistral's chat endpoint as its API reference documents it, at `/mistral/v1/chat/completions`: the OpenAI wire
 * format, except that the request schema forbids every field it does not list (422 "Extra inputs are not
 * permitted", so `stream_options` or `seed` is refused), and a stream reports its usage in its final chunk without
 * being asked. For testing the `mistral` preset's request shaping against the behaviour that broke it.
 */
import { InvalidRequest, type DialectRoute } from './route.js';
import { chatReply, checkChat, modelsBody, openaiFaults } from './openai/answers.js';
import type { Reply } from '../deliver.js';

type Json = Record<string, unknown>;

/**
 * The top-level fields of Mistral's ChatCompletionRequest. The same list as the gateway's `mistral` quirk
 * (providers/presets/quirks.ts), written again on purpose: the mock stands for the host, so a test of the preset
 * must not pass just because both sides read one list.
 */
const REQUEST_FIELDS = new Set([
  'model',
  'messages',
  'temperature',
  'top_p',
  'max_tokens',
  'stream',
  'stop',
  'random_seed',
  'metadata',
  'response_format',
  'tools',
  'tool_choice',
  'presence_penalty',
  'frequency_penalty',
  'n',
  'prediction',
  'parallel_tool_calls',
  'prompt_mode',
  'safe_prompt',
]);

/** The fields of each message role (only tool messages carry a `name`; only assistant messages a `prefix`). */
const MESSAGE_FIELDS: Record<string, ReadonlySet<string>> = {
  system: new Set(['role', 'content']),
  user: new Set(['role', 'content']),
  assistant: new Set(['role', 'content', 'tool_calls', 'prefix']),
  tool: new Set(['role', 'content', 'tool_call_id', 'name']),
};

function extraForbidden(loc: string): InvalidRequest {
  return new InvalidRequest(`Extra inputs are not permitted (body.${loc})`, loc, 422);
}

function checkMistralChat(body: unknown): { stream: boolean } {
  const checked = checkChat(body);
  const request = body as Json;
  for (const key of Object.keys(request)) if (!REQUEST_FIELDS.has(key)) throw extraForbidden(key);
  (request.messages as unknown[]).forEach((m, i) => {
    const message = m as Json;
    const allowed = MESSAGE_FIELDS[String(message.role)];
    if (!allowed) return;
    for (const key of Object.keys(message)) if (!allowed.has(key)) throw extraForbidden(`messages.${i}.${message.role}.${key}`);
  });
  return checked;
}

/** The OpenAI reply, with a stream's usage moved into its final (finish_reason) chunk as Mistral sends it. */
function mistralReply(body: unknown, n: number, reply: string): Reply {
  const asked = { ...(body as Json), stream_options: { include_usage: true } };
  const out = chatReply(asked, { n, reply });
  if (out.kind !== 'sse' || out.script.usageEvent === undefined) return out;
  const { usageEvent, ...script } = out.script;
  const finish = JSON.parse(String(script.tail[0]).slice('data: '.length)) as Json;
  finish.usage = (JSON.parse(String(usageEvent).slice('data: '.length)) as Json).usage;
  const rest = script.tail.slice(1).filter((event) => event !== usageEvent);
  return { kind: 'sse', script: { ...script, tail: [`data: ${JSON.stringify(finish)}\n\n`, ...rest] } };
}

/** Mistral's error shape: `{"object":"error","message":…,"type":…,"param":…,"code":…}`. */
function errorBody(status: number, message: string, code?: string | null, param: string | null = null): string {
  return JSON.stringify({ object: 'error', message, type: status === 422 || status === 400 ? 'invalid_request_error' : 'error', param, code: code ?? null });
}

export const mistralRoutes: DialectRoute[] = [
  {
    kind: 'model',
    method: 'POST',
    path: /^\/mistral\/v1\/chat\/completions$/,
    errorBody,
    faults: openaiFaults,
    handle(body, ctx) {
      const { stream } = checkMistralChat(body);
      return { stream, reply: mistralReply(body, ctx.n, ctx.reply) };
    },
  },
  // The list of models a mistral-type provider is probed with (OpenAI's list shape, as Mistral's API answers).
  { kind: 'plain', method: 'GET', path: /^\/mistral\/v1\/models$/, errorBody, body: () => modelsBody(), listing: openaiFaults },
];
