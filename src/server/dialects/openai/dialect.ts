import type { GatewayError } from '../../../errors.js';
import { Secrets } from '../../../secrets.js';
import type { IngressDialect, StreamWriter } from '../../ingress.js';
import { validateChat, validateEmbeddings, validateResponses } from '../../validate.js';

/**
 * The OpenAI dialect at the edge: the error shape `{"error":{"message","type","code","param"}}` and SSE framing.
 * This is the only place a GatewayError becomes an OpenAI error.
 */

function errorType(err: GatewayError): string {
  const s = err.status;
  if (s === 401) return 'authentication_error';
  if (s === 403) return 'permission_error';
  if (s === 429) return err.kind === 'budget' ? 'insufficient_quota' : 'rate_limit_error';
  if (s >= 500) return err.kind === 'timeout' ? 'timeout_error' : 'server_error';
  return 'invalid_request_error';
}

/**
 * The body is rebuilt from the error's known fields, never passed through. Upstream text in them was scrubbed of
 * the provider's secrets where it entered (providers/); as a second fence, whatever made the error, nothing
 * key-shaped is shown and the code and param only when they are plain identifiers.
 */
export function openAIErrorBody(err: GatewayError): string {
  return JSON.stringify({
    error: {
      message: Secrets.none.scrubUntrusted(err.message),
      type: errorType(err),
      code: Secrets.none.identifier(err.code) ?? err.kind,
      param: Secrets.none.identifier(err.param) ?? null,
    },
  });
}

/** Headers that go with an error response: Retry-After when the gateway knows when to come back. */
export function errorHeaders(err: GatewayError): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (err.retryAfterMs !== undefined && (err.status === 429 || err.status === 503)) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
  }
  return headers;
}

export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};

export function sseData(data: string): string {
  return `data: ${data}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';

/** How a failure after the stream was committed reaches an OpenAI client: an error event, then the end. */
export function sseError(err: GatewayError): string {
  return `data: ${openAIErrorBody(err)}\n\n`;
}

/**
 * Whether the client asked for the usage chunk (`stream_options.include_usage`): the one place that reads it.
 * Every chat stream reaches the gateway with its usage (providers/adapter.ts: the gateway accounts for each, and
 * an upstream that must be asked is asked whatever the client asked); a client that did not ask does not get the
 * usage-only chunk (`choices: []`), as with OpenAI itself.
 */
function wantsUsage(request: Record<string, unknown>): boolean {
  const options = request.stream_options as { include_usage?: unknown } | undefined;
  return options?.include_usage === true;
}

const openAIStream = (request: Record<string, unknown> = {}): StreamWriter => {
  const usage = wantsUsage(request);
  return {
    headers: SSE_HEADERS,
    chunk: (e) => (!usage && e.data.includes('"choices":[]') ? '' : sseData(e.data)),
    done: () => SSE_DONE,
    error: sseError,
  };
};

const identity = (body: string): string => body;

export const openAIChat: IngressDialect = {
  op: 'chat',
  parse(body) {
    const { model, stream } = validateChat(body);
    return { model, stream, canonical: body };
  },
  renderJson: identity,
  streamWriter: openAIStream,
  errorBody: openAIErrorBody,
  errorHeaders,
};

export const openAIEmbeddings: IngressDialect = {
  ...openAIChat,
  op: 'embeddings',
  parse(body) {
    return { model: validateEmbeddings(body).model, stream: false, canonical: body };
  },
};

/** OpenAI's Responses API, passed through: named SSE events, and no `[DONE]` (response.completed ends it). */
export const openAIResponses: IngressDialect = {
  ...openAIChat,
  op: 'responses',
  parse(body) {
    const { model, stream } = validateResponses(body);
    return { model, stream, canonical: body };
  },
  streamWriter: () => ({
    headers: SSE_HEADERS,
    chunk: (e) => (e.event ? `event: ${e.event}\ndata: ${e.data}\n\n` : sseData(e.data)),
    done: () => '',
    error: (err) => `event: error\ndata: ${JSON.stringify({ type: 'error', ...JSON.parse(openAIErrorBody(err)).error })}\n\n`,
  }),
};
