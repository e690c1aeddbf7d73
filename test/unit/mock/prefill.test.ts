// The mock continues an assistant prefill like real providers do, so "mid-stream resume" can be tested end to
// end: OpenAI-dialect `prefix: true` (DeepSeek, Mistral), any trailing assistant message on Anthropic and Bedrock.
// Plain fetch over real sockets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anthropicPrefill } from '../../../src/mock/dialects/anthropic/answers.js';
import { converseAnswer } from '../../../src/mock/dialects/bedrock.js';
import { continueReply, splitWords } from '../../../src/mock/answer.js';
import { type MockServer, startMock } from '../../../src/mock/index.js';
import { openaiPrefill } from '../../../src/mock/dialects/openai/answers.js';
import { eventStreamFrames } from '../../../src/providers/bedrock/eventstream.js';

type Json = Record<string, unknown>;
interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
}
interface ChatCompletion {
  choices: { message: { content: string | null; tool_calls?: { function: { name: string } }[] }; finish_reason: string }[];
  usage: ChatUsage;
}
interface ChatChunk {
  choices: { delta: { role?: string; content?: string | null }; finish_reason: string | null }[];
  usage?: ChatUsage | null;
}
interface AnthropicMessage {
  content: { type: string; text: string }[];
  stop_reason: string;
  usage: { input_tokens: number; output_tokens: number };
}
interface AnthropicEvent {
  delta: { text?: string };
  usage?: { output_tokens: number };
}
interface ConverseResponse {
  output: { message: { content: { text: string }[] } };
  stopReason: string;
  usage: { inputTokens: number; outputTokens: number };
}

let mock: MockServer;
/** The mock's reply text R, and prefills of it: cut mid-word, ending in a space, ending at a word's end. */
let R: string;
let prefills: Record<string, string>;

const USER = { role: 'user', content: 'Tell me something.' };

beforeAll(async () => {
  mock = await startMock();
  R = mock.answerFor({ model: 'm', messages: [USER] });
  const space = R.indexOf(' ', 10);
  prefills = { 'cut mid-word': R.slice(0, space - 2), 'ending in a space': R.slice(0, space + 1), 'ending a word': R.slice(0, space) };
});

afterAll(async () => {
  await mock?.close();
});

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${mock.origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** SSE events as `{event, data}` (raw data text). */
async function sseEvents(res: Response): Promise<{ event?: string; data: string }[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
      return { event, data: lines.find((l) => l.startsWith('data: '))!.slice(6) };
    });
}

describe('continueReply (pure)', () => {
  it('answers the rest of the reply after a prefill it starts with, else the whole reply', () => {
    expect(continueReply('Hello brave world.', 'Hello br')).toBe('ave world.');
    expect(continueReply('Hello brave world.', 'Hello ')).toBe('brave world.');
    expect(continueReply('Hello brave world.', 'Hello')).toBe(' brave world.');
    expect(continueReply('Hello brave world.', 'Hello brave world.')).toBe('');
    expect(continueReply('Hello brave world.', 'Goodbye')).toBe('Hello brave world.');
    expect(continueReply('Hello brave world.', '')).toBe('Hello brave world.');
    expect(continueReply('Hello brave world.', null)).toBe('Hello brave world.');
    expect(splitWords(continueReply('Hello brave world.', 'Hello'))).toEqual([' brave ', 'world.']);
  });

  it('reads prefills per dialect: OpenAI only with prefix:true; Anthropic any trailing assistant, string or blocks', () => {
    const assistant = { role: 'assistant', content: 'The' };
    expect(openaiPrefill({ messages: [USER, { ...assistant, prefix: true }] })).toBe('The');
    expect(openaiPrefill({ messages: [USER, { role: 'assistant', content: [{ type: 'text', text: 'Th' }, { type: 'text', text: 'e' }], prefix: true }] })).toBe('The');
    expect(openaiPrefill({ messages: [USER, assistant] })).toBeNull();
    expect(openaiPrefill({ messages: [{ ...assistant, prefix: true }, USER] })).toBeNull();
    expect(anthropicPrefill({ messages: [USER, assistant] })).toBe('The');
    expect(anthropicPrefill({ messages: [USER, { role: 'assistant', content: [{ type: 'text', text: 'Th' }, { type: 'text', text: 'e' }] }] })).toBe('The');
    expect(anthropicPrefill({ messages: [USER] })).toBeNull();
  });

  it('a tool-call answer ignores the prefill', () => {
    const toolConfig = { tools: [{ toolSpec: { name: 'f', inputSchema: { json: { type: 'object' } } } }] };
    const answer = converseAnswer({ messages: [{ role: 'user', content: [{ text: 'x' }] }, { role: 'assistant', content: [{ text: 'The' }] }], toolConfig }, R);
    expect(answer.finishReason).toBe('tool_calls');
    expect(answer.text).toBeNull();
  });
});

describe('OpenAI dialect: a trailing assistant message with prefix: true', () => {
  const body = (prefill: string, extra: Json = {}) => ({
    model: 'deepseek-chat',
    messages: [USER, { role: 'assistant', content: prefill, prefix: true }],
    ...extra,
  });

  it.each(['cut mid-word', 'ending in a space', 'ending a word'])('continues a prefill %s (non-stream)', async (kind) => {
    const prefill = prefills[kind]!;
    const res = await post('/v1/chat/completions', body(prefill));
    expect(res.status).toBe(200);
    const data = (await res.json()) as ChatCompletion;
    const content = data.choices[0]!.message.content!;
    expect(content).toBe(R.slice(prefill.length));
    expect(prefill + content).toBe(R);
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage.completion_tokens).toBe(splitWords(content).length);
    expect(data.usage.prompt_tokens).toBe(Math.ceil((USER.content.length + prefill.length) / 4));
    expect(mock.answerFor(body(prefill))).toBe(content);
  });

  it.each(['cut mid-word', 'ending in a space', 'ending a word'])('continues a prefill %s (stream)', async (kind) => {
    const prefill = prefills[kind]!;
    const res = await post('/v1/chat/completions', body(prefill, { stream: true, stream_options: { include_usage: true } }));
    expect(res.status).toBe(200);
    const raw = (await sseEvents(res)).map((e) => e.data);
    expect(raw.at(-1)).toBe('[DONE]');
    const events = raw.slice(0, -1).map((d) => JSON.parse(d) as ChatChunk);
    expect(events[0]!.choices[0]!.delta).toMatchObject({ role: 'assistant', content: '' });
    const usage = events.at(-1)!;
    expect(usage.choices).toEqual([]);
    expect(events.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    const deltas = events.slice(1, -2).map((e) => e.choices[0]!.delta.content!);
    const continuation = R.slice(prefill.length);
    expect(deltas).toEqual(splitWords(continuation));
    expect(prefill + deltas.join('')).toBe(R);
    if (kind === 'ending a word') expect(deltas[0]!.startsWith(' ')).toBe(true); // leading space stays with the first word
    expect(usage.usage!.completion_tokens).toBe(deltas.length);
    expect(usage.usage!.prompt_tokens).toBe(Math.ceil((USER.content.length + prefill.length) / 4));
  });

  it('honours max_tokens on the continuation', async () => {
    const prefill = prefills['ending in a space']!;
    const res = await post('/v1/chat/completions', body(prefill, { max_tokens: 2 }));
    const data = (await res.json()) as ChatCompletion;
    expect(data.choices[0]!.finish_reason).toBe('length');
    expect(data.choices[0]!.message.content).toBe(splitWords(R.slice(prefill.length)).slice(0, 2).join(''));
    expect(data.usage.completion_tokens).toBe(2);
    expect(mock.answerFor(body(prefill, { max_tokens: 2 }))).toBe(data.choices[0]!.message.content);
  });

  it('answers in full without prefix: true, or when the prefill is not the start of its reply', async () => {
    const prefill = prefills['cut mid-word']!;
    const plain = { model: 'gpt-4o', messages: [USER, { role: 'assistant', content: prefill }] };
    const data = (await (await post('/v1/chat/completions', plain)).json()) as ChatCompletion;
    expect(data.choices[0]!.message.content).toBe(R);
    expect(mock.answerFor(plain)).toBe(R);

    const stranger = body('Once upon a time');
    const other = (await (await post('/v1/chat/completions', stranger)).json()) as ChatCompletion;
    expect(other.choices[0]!.message.content).toBe(R);
    expect(mock.answerFor(stranger)).toBe(R);
  });

  it('a tool call is unaffected by a prefill', async () => {
    const tools = [{ type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } }];
    const data = (await (await post('/v1/chat/completions', body(prefills['ending a word']!, { tools }))).json()) as ChatCompletion;
    expect(data.choices[0]!.finish_reason).toBe('tool_calls');
    expect(data.choices[0]!.message.tool_calls?.[0]?.function.name).toBe('get_time');
  });
});

describe('Anthropic dialect: any trailing assistant message', () => {
  const HEADERS = { 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01' };
  const body = (content: unknown, extra: Json = {}) => ({
    model: 'claude-mock-4',
    max_tokens: 100,
    messages: [USER, { role: 'assistant', content }],
    ...extra,
  });

  it.each(['cut mid-word', 'ending a word'])('continues a prefill %s (non-stream, string and text blocks)', async (kind) => {
    const prefill = prefills[kind]!;
    const half = Math.floor(prefill.length / 2);
    const blocks = [{ type: 'text', text: prefill.slice(0, half) }, { type: 'text', text: prefill.slice(half) }];
    for (const content of [prefill, blocks]) {
      const res = await post('/v1/messages', body(content), HEADERS);
      expect(res.status).toBe(200);
      const data = (await res.json()) as AnthropicMessage;
      expect(data.content).toEqual([{ type: 'text', text: R.slice(prefill.length) }]);
      expect(prefill + data.content[0]!.text).toBe(R);
      expect(data.stop_reason).toBe('end_turn');
      expect(data.usage.output_tokens).toBe(splitWords(R.slice(prefill.length)).length);
      expect(data.usage.input_tokens).toBe(Math.ceil((USER.content.length + prefill.length) / 4));
      expect(mock.answerFor(body(content), 'anthropic')).toBe(data.content[0]!.text);
    }
  });

  it('continues a prefill in a stream', async () => {
    const prefill = prefills['cut mid-word']!;
    const res = await post('/v1/messages', body(prefill, { stream: true }), HEADERS);
    expect(res.status).toBe(200);
    const events = await sseEvents(res);
    expect(events.map((e) => e.event).slice(0, 3)).toEqual(['message_start', 'content_block_start', 'ping']);
    expect(events.map((e) => e.event).slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    const parsed = (e: { data: string }) => JSON.parse(e.data) as AnthropicEvent;
    const deltas = events.filter((e) => e.event === 'content_block_delta').map((e) => parsed(e).delta.text!);
    expect(deltas).toEqual(splitWords(R.slice(prefill.length)));
    expect(prefill + deltas.join('')).toBe(R);
    expect(parsed(events.at(-2)!).usage?.output_tokens).toBe(deltas.length);
  });

  it('answers in full a prefill that is not the start of its reply; answerFor defaults to the OpenAI reading', async () => {
    const data = (await (await post('/v1/messages', body('Once upon a time'), HEADERS)).json()) as AnthropicMessage;
    expect(data.content[0]!.text).toBe(R);
    expect(mock.answerFor(body(prefills['ending a word']!))).toBe(R); // OpenAI dialect: no prefix flag, no prefill
  });

  it.each([
    ['a string', (p: string) => p],
    ['text blocks', (p: string) => [{ type: 'text', text: p }]],
  ])('refuses a final assistant content ending in whitespace (%s) with a 400 invalid_request_error', async (_, form) => {
    const res = await post('/v1/messages', body(form(prefills['ending in a space']!)), HEADERS);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'messages: final assistant content cannot end with trailing whitespace' },
    });
  });
});

describe('Bedrock Converse: a trailing assistant message', () => {
  const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
  const converse = (stream: boolean, body: unknown) => post(`/model/${encodeURIComponent(MODEL)}/${stream ? 'converse-stream' : 'converse'}`, body);
  const body = (prefill: string, extra: Json = {}) => ({
    messages: [
      { role: 'user', content: [{ text: USER.content }] },
      { role: 'assistant', content: [{ text: prefill }] },
    ],
    ...extra,
  });

  it('continues a prefill (non-stream)', async () => {
    const prefill = prefills['cut mid-word']!;
    const res = await converse(false, body(prefill));
    expect(res.status).toBe(200);
    const data = (await res.json()) as ConverseResponse;
    expect(data.output.message.content).toEqual([{ text: R.slice(prefill.length) }]);
    expect(prefill + data.output.message.content[0]!.text).toBe(R);
    expect(data.stopReason).toBe('end_turn');
    expect(data.usage.outputTokens).toBe(splitWords(R.slice(prefill.length)).length);
    expect(data.usage.inputTokens).toBe(Math.ceil((USER.content.length + prefill.length) / 4));
    expect(mock.answerFor(body(prefill), 'bedrock')).toBe(R.slice(prefill.length));
  });

  it('continues a prefill in an event stream, honouring maxTokens', async () => {
    const prefill = prefills['ending a word']!;
    const res = await converse(true, body(prefill));
    const bytes = Buffer.from(await res.arrayBuffer());
    async function* once() {
      yield bytes;
    }
    const frames = [];
    for await (const f of eventStreamFrames(once())) frames.push(f);
    const deltas = frames
      .filter((f) => f.event === 'contentBlockDelta')
      .map((f) => (JSON.parse(f.data) as { delta: { text: string } }).delta.text);
    expect(deltas).toEqual(splitWords(R.slice(prefill.length)));
    expect(prefill + deltas.join('')).toBe(R);

    const capped = body(prefill, { inferenceConfig: { maxTokens: 1 } });
    const data = (await (await converse(false, capped)).json()) as ConverseResponse;
    expect(data.stopReason).toBe('max_tokens');
    expect(data.output.message.content[0]!.text).toBe(deltas[0]);
    expect(mock.answerFor(capped, 'bedrock')).toBe(deltas[0]);
  });
});
