/**
 * OpenAI's Responses API on the mock (`POST /v1/responses`): a text answer as a `response` object, or streamed
 * as named SSE events (response.created … response.output_text.delta … response.completed).
 */
import { contentChars, estimateTokens, splitWords } from '../../answer.js';
import type { DialectRoute } from '../route.js';
import { InvalidRequest } from '../route.js';
import { errorBody, openaiFaults } from './answers.js';
import type { StreamScript } from '../../deliver.js';

type Json = Record<string, unknown>;

function inputTokens(input: unknown): number {
  if (typeof input === 'string') return estimateTokens(input.length);
  if (!Array.isArray(input)) return 0;
  let chars = 0;
  for (const item of input) chars += contentChars((item as Json | null)?.content);
  return estimateTokens(chars);
}

function event(name: string, data: Json): string {
  return `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
}

export const responsesRoute: DialectRoute = {
  kind: 'model',
  method: 'POST',
  path: /^\/v1\/responses$/,
  errorBody,
  faults: openaiFaults,
  handle(body, ctx) {
    const request = (body && typeof body === 'object' ? body : {}) as Json;
    if (typeof request.model !== 'string' || request.model === '') throw new InvalidRequest("'model' is required.", 'model');
    if (request.input === undefined) throw new InvalidRequest("'input' is required.", 'input');
    const id = `resp_mock_${ctx.n}`;
    const itemId = `msg_mock_${ctx.n}`;
    const words = splitWords(ctx.reply);
    const usage = { input_tokens: inputTokens(request.input), output_tokens: words.length };
    const text = { type: 'output_text', text: ctx.reply, annotations: [] };
    const message = { type: 'message', id: itemId, status: 'completed', role: 'assistant', content: [text] };
    const response = (status: string, output: unknown[]) => ({
      id,
      object: 'response',
      created_at: Math.floor(Date.now() / 1000),
      status,
      model: request.model,
      output,
      usage: status === 'completed' ? { ...usage, total_tokens: usage.input_tokens + usage.output_tokens } : null,
    });
    if (request.stream !== true) return { stream: false, reply: { kind: 'json', body: JSON.stringify(response('completed', [message])) } };

    let seq = 0;
    const at = { item_id: itemId, output_index: 0, content_index: 0 };
    const script: StreamScript = {
      head: [
        event('response.created', { sequence_number: seq++, response: response('in_progress', []) }),
        event('response.output_item.added', { sequence_number: seq++, output_index: 0, item: { ...message, status: 'in_progress', content: [] } }),
        event('response.content_part.added', { sequence_number: seq++, ...at, part: { ...text, text: '' } }),
      ],
      content: words.map((delta) => event('response.output_text.delta', { sequence_number: seq++, ...at, delta })),
      tail: [
        event('response.output_text.done', { sequence_number: seq++, ...at, text: ctx.reply }),
        event('response.content_part.done', { sequence_number: seq++, ...at, part: text }),
        event('response.output_item.done', { sequence_number: seq++, output_index: 0, item: message }),
        event('response.completed', { sequence_number: seq++, response: response('completed', [message]) }),
      ],
      errorEvent: () => event('error', { code: 'server_error', message: 'The server had an error (lifeline mock: scripted fault)', param: null }),
      malformedEvent: 'event: response.created\ndata: {"type":"response.cre\n\n',
    };
    return { stream: true, reply: { kind: 'sse', script } };
  },
};
