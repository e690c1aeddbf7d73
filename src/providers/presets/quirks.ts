import type { ProviderType } from '../../config/provider-types.js';

/**
 * How each OpenAI-compatible host's chat request differs from OpenAI's, taken from the host's own API documentation
 * (named per entry). Only what a host documents is acted on: a field it turns out to reject anyway comes back as its
 * own 400, which the client sees. What the gateway itself adds to a request is covered for every host:
 * `stream_options.include_usage` on every chat stream (openai/adapter.ts, for accounting), `prefix: true` on the
 * trailing assistant message of a resumed stream (pipeline/transcript.ts), `user` from an Anthropic client's
 * `metadata.user_id`, and `max_tokens` / `max_completion_tokens` as the client sent them (a resume lowers them).
 */
export interface ChatQuirks {
  /** The documentation this entry is taken from. */
  docs: string;
  /** OpenAI's name → the host's, for a field the host knows by another name. A value under the host's name wins. */
  rename?: Readonly<Record<string, string>>;
  /** The host's schema forbids every other top-level field (a 422 for any extra): the rest are dropped. */
  accept?: ReadonlySet<string>;
  /** Top-level fields the host rejects: dropped. */
  drop?: readonly string[];
  /** Message fields the host rejects, by role (`*`: every role): dropped. */
  dropFromMessages?: Readonly<Record<string, readonly string[]>>;
  /** Where a prefill continuation (a trailing assistant message with `prefix: true`) must go instead, if elsewhere. */
  prefixBaseUrl?(baseUrl: string): string | undefined;
}

/** Mistral's ChatCompletionRequest, the whole of it. */
const MISTRAL_FIELDS = new Set([
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

/** DeepSeek's own hosts; a `base_url` elsewhere (a proxy, a self-hosted model) is the operator's to set. */
const DEEPSEEK_HOST = /^https:\/\/api\.deepseek\.com(?:\/v1)?\/?$/;

export const CHAT_QUIRKS: Readonly<Record<Exclude<ProviderType, 'openai' | 'anthropic' | 'gemini' | 'azure' | 'bedrock'>, ChatQuirks>> = {
  // 400 for logprobs, top_logprobs, logit_bias and messages[].name; n must be 1 (left: dropping it would change the
  // answer). Accepts stream_options. Dropping lets a request that fails over from OpenAI still be served.
  groq: {
    docs: 'Groq, "OpenAI Compatibility" (console.groq.com/docs/openai), "Currently Unsupported OpenAI Features"',
    drop: ['logprobs', 'top_logprobs', 'logit_bias'],
    dropFromMessages: { '*': ['name'] },
  },
  // Nothing documented as refused.
  together: { docs: 'Together AI, chat completions API reference (docs.together.ai)' },
  // Nothing refused; a stream reports usage in its last chunk whether asked or not (include_usage is harmless).
  fireworks: { docs: 'Fireworks AI, "OpenAI compatibility" (docs.fireworks.ai/tools-sdks/openai-compatibility)' },
  // Documents max_tokens (not max_completion_tokens) and stream_options.include_usage. Chat prefix completion
  // (`prefix: true`, which a resumed stream sends) is a beta feature served only under the /beta base URL.
  deepseek: {
    docs: 'DeepSeek, "Create Chat Completion" (api-docs.deepseek.com/api/create-chat-completion) and "Chat Prefix Completion (Beta)"',
    rename: { max_completion_tokens: 'max_tokens' },
    prefixBaseUrl: (base) => (DEEPSEEK_HOST.test(base) ? 'https://api.deepseek.com/beta' : undefined),
  },
  // The request schema forbids any field it does not list (422 "Extra inputs are not permitted"): stream_options,
  // seed, max_completion_tokens, user, logprobs… A stream reports usage in its final chunk unasked (release note
  // 2024-01-16, "Token usage information in streaming responses"), so not asking costs nothing. Only tool messages
  // carry a `name`; assistant messages take `prefix` (the prefill flag a resume sends).
  mistral: {
    docs: 'Mistral, API reference "Chat Completion" (docs.mistral.ai/api; ChatCompletionRequest, AssistantMessage)',
    rename: { seed: 'random_seed', max_completion_tokens: 'max_tokens' },
    accept: MISTRAL_FIELDS,
    dropFromMessages: { system: ['name'], user: ['name'], assistant: ['name'] },
  },
  // stream_options.include_usage is deprecated there and has no effect: usage is always reported. Harmless to send.
  openrouter: { docs: 'OpenRouter, API reference "ChatStreamOptions" (openrouter.ai/docs)' },
  // Some reasoning models refuse presence_penalty, frequency_penalty and stop: per model, not per host (left).
  xai: { docs: 'xAI, chat completions API reference (docs.x.ai)' },
  // "Fully compatible with OpenAI's Chat Completions format"; nothing documented as refused.
  perplexity: { docs: 'Perplexity, "OpenAI Compatibility" (docs.perplexity.ai)' },
  // Nothing refused that its current docs agree on (older copies listed penalties as 400s; current ones do not).
  cerebras: { docs: 'Cerebras, "OpenAI Compatibility" (inference-docs.cerebras.ai/resources/openai)' },
  // Supported request fields include stream_options.include_usage and max_tokens, not max_completion_tokens (an
  // unknown field is ignored there: the limit would be lost).
  ollama: {
    docs: 'Ollama, "OpenAI compatibility" (docs.ollama.com/api/openai-compatibility), "Supported request fields"',
    rename: { max_completion_tokens: 'max_tokens' },
  },
  // The OpenAI server's request models allow extra fields (logged) and take stream_options (include_usage).
  vllm: { docs: 'vLLM, "OpenAI-Compatible Server" (docs.vllm.ai; vllm/entrypoints/openai/protocol.py)' },
  // Supported payload parameters list max_tokens, not max_completion_tokens.
  lmstudio: {
    docs: 'LM Studio, "OpenAI Compatibility Endpoints: Chat Completions" (lmstudio.ai/docs/developer/openai-compat)',
    rename: { max_completion_tokens: 'max_tokens' },
  },
};

/** `body` as the host takes it; the same object when nothing changes (the client's own text then goes as is). */
export function applyChatQuirks(body: Record<string, unknown>, q: ChatQuirks): Record<string, unknown> {
  let out = body;
  const edit = (): Record<string, unknown> => {
    if (out === body) out = { ...body };
    return out;
  };
  for (const [from, to] of Object.entries(q.rename ?? {})) {
    if (!(from in out)) continue;
    const value = edit()[from];
    delete out[from];
    if (!(to in out)) out[to] = value;
  }
  for (const key of Object.keys(out)) {
    if (q.accept ? !q.accept.has(key) : q.drop?.includes(key)) delete edit()[key];
  }
  const messages = q.dropFromMessages && Array.isArray(out.messages) ? withoutMessageFields(out.messages, q.dropFromMessages) : undefined;
  if (messages) edit().messages = messages;
  return out;
}

/** The messages with those fields removed; undefined when none had any. */
function withoutMessageFields(messages: unknown[], byRole: Readonly<Record<string, readonly string[]>>): unknown[] | undefined {
  let out: unknown[] | undefined;
  messages.forEach((m, i) => {
    if (typeof m !== 'object' || m === null) return;
    const message = m as Record<string, unknown>;
    const fields = [...(byRole['*'] ?? []), ...(byRole[String(message.role)] ?? [])].filter((f) => f in message);
    if (fields.length === 0) return;
    const copy = { ...message };
    for (const f of fields) delete copy[f];
    out ??= [...messages];
    out[i] = copy;
  });
  return out;
}

/** True when the request continues a prefill: its last message is the assistant's, flagged `prefix: true`. */
export function continuesPrefill(body: Record<string, unknown>): boolean {
  const messages = body.messages;
  const last = Array.isArray(messages) ? (messages[messages.length - 1] as Record<string, unknown> | undefined) : undefined;
  return last?.role === 'assistant' && last.prefix === true;
}
