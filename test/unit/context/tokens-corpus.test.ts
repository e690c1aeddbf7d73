/**
 * Offline token counting (src/context) on a generated corpus of 64 chat requests. References are computed
 * independently with gpt-tokenizer's own helpers (its ESM build, a separate module instance from the one
 * src/context loads):
 *
 * - exact: text messages (framing, roles, names, reply priming) must equal gpt-tokenizer's `encodeChat` token
 *   sequence and its `countChatCompletionTokens`;
 * - estimates that must still equal gpt-tokenizer's recipe: function/tool definitions, tool calls, tool_choice,
 *   and images at OpenAI's documented costs;
 * - other families: an over-count of the cl100k recipe by exactly their documented margin.
 */
import { countTokens as cl100kTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import { countTokens as o200kTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { ChatCompletionRequest, ChatMessage } from 'gpt-tokenizer/GptEncoding';
import * as gpt4o from 'gpt-tokenizer/model/gpt-4o';
import * as gpt4turbo from 'gpt-tokenizer/model/gpt-4-turbo';
import { describe, expect, it } from 'vitest';
import { countChatPromptTokens, encodingFor } from '../../../src/context/index.js';
import { type Body, type Msg, pngDataUrl } from '../../support/context.js';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TEXTS = [
  'Hello, how are you today?', 'Summarize the following article in three bullet points.',
  'function add(a: number, b: number): number {\n  return a + b;\n}\n',
  '東京の天気はどうですか？明日は雨が降るでしょうか。', '我们需要在周五之前完成这个项目的所有测试。', '안녕하세요, 만나서 반갑습니다.',
  'Emoji 🎉🔥 family 👩‍👩‍👧‍👦 flag 🇫🇷 check ✔︎', 'مرحبا بالعالم — right-to-left text',
  'Combining marks: e\u0301 a\u0308 n\u0303, and ẞ', '    indented\n\n\n\ttabs\t and   spaces   \n',
  '{"json": [1, 2, 3], "nested": {"k": "v"}}', 'SELECT * FROM users WHERE id = 42 ORDER BY created_at DESC;',
  'Numbers: 3.14159 2.71828 1,000,000 0x1F 1e-9', 'https://example.com/path?q=1&r=2#frag', 'Ends with a newline\n', '',
];
const PARAGRAPH =
  'You are a meticulous assistant. Follow the policy below exactly; when unsure, ask. ' +
  'Réponds en français si on te parle français. 日本語で質問されたら日本語で答えてください。\n';
const ROLES = ['user', 'assistant', 'system', 'developer'];
const NAMES = ['alice', 'bob_2', 'example_user', 'Tool-Runner'];
// width, height, tokens at high detail (hand-computed with OpenAI's rule)
const IMAGES: [number, number, number][] = [
  [1024, 1024, 765], [2048, 4096, 1105], [512, 512, 255], [513, 512, 425],
  [800, 600, 765], [1920, 1080, 1105], [100, 100, 255], [3000, 500, 765],
];
const object = (properties: Body, required: string[] = []) => ({ type: 'object', properties, required });
const FUNCTIONS: Body[] = [
  {
    name: 'get_weather',
    description: 'Get the current weather in a given location',
    parameters: object(
      { location: { type: 'string', description: 'City and state' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
      ['location'],
    ),
  },
  {
    name: 'search_docs',
    description: 'Full-text search over the knowledge base — 検索します.',
    parameters: object({
      query: { type: 'string' },
      limit: { type: 'integer', description: 'Max results' },
      filters: {
        ...object({ lang: { type: 'string', enum: ['en', 'ja', 'zh'] }, since: { type: 'string', description: 'ISO date' } }, ['lang']),
        description: 'Optional filters',
      },
    }, ['query']),
  },
  {
    name: 'create_ticket',
    parameters: object({
      title: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } }, priority: { type: 'number', enum: [1, 2, 3] },
      urgent: { type: 'boolean' }, assignee: { type: 'null' }, extra: { type: 'array' },
      checklist: { type: 'array', items: { type: 'object', properties: { item: { type: 'string' }, done: { type: 'boolean' } } } },
    }, ['title', 'tags']),
  },
  { name: 'ping', description: 'Health check; takes no arguments.' },
  { name: 'noop', parameters: { type: 'object', properties: {} } },
];

interface Case {
  body: Body;
  kind: 'text' | 'named' | 'tools' | 'parts';
  /** Image tokens the case contains, from the table above (OpenAI models). */
  imageTokens: number;
}

function makeCorpus(): Case[] {
  const r = mulberry32(20240611);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const text = () => (r() < 0.3 ? `${pick(TEXTS)} ${pick(TEXTS)}` : pick(TEXTS));
  const cases: Case[] = [];
  for (let i = 0; i < 64; i++) {
    const kind = (['text', 'named', 'tools', 'parts'] as const)[i % 4];
    const messages: Msg[] = [];
    if (r() < 0.7) {
      const system = PARAGRAPH.repeat(1 + Math.floor(r() * 60));
      // Half end without a newline: with tools, OpenAI pads the first system message with one.
      messages.push({ role: 'system', content: r() < 0.5 ? `${system}Keep answers short` : system });
    }
    const turns = 1 + Math.floor(r() * 5);
    for (let t = 0; t < turns; t++) {
      const message: Msg = { role: pick(ROLES), content: text() };
      if (kind === 'named' && r() < 0.6) message.name = pick(NAMES);
      if (kind === 'named' && r() < 0.2) message.content = `${text()} <|endoftext|>`;
      messages.push(message);
    }
    const body: Body = { messages };
    let imageTokens = 0;
    if (kind === 'tools') {
      const tools = FUNCTIONS.filter(() => r() < 0.6);
      if (tools.length === 0) tools.push(FUNCTIONS[i % FUNCTIONS.length]);
      body.tools = tools.map((fn) => ({ type: 'function', function: fn }));
      body.tool_choice = pick(['auto', 'none', { type: 'function', function: { name: tools[0].name } }, undefined]);
      const calls = Array.from({ length: 1 + Math.floor(r() * 3) }, (_, c) => ({
        id: `call_${i}_${c}`,
        type: 'function',
        function: { name: pick(tools).name, arguments: JSON.stringify({ q: text(), n: c }) },
      }));
      messages.push({ role: 'assistant', content: r() < 0.5 ? null : text(), tool_calls: calls });
      for (const call of calls) messages.push({ role: 'tool', tool_call_id: call.id, content: text() });
    }
    if (kind === 'parts') {
      const parts: Msg[] = [{ type: 'text', text: text() }];
      for (let p = 0; p < 1 + Math.floor(r() * 3); p++) {
        const [width, height, high] = pick(IMAGES);
        const detail = pick(['low', 'high', 'auto', undefined]);
        const remote = r() < 0.25;
        const url = remote ? 'https://example.com/cat.jpg' : pngDataUrl(width, height);
        parts.push({ type: 'image_url', image_url: detail ? { url, detail } : { url } });
        imageTokens += detail === 'low' ? 85 : remote ? 765 : high;
        parts.push({ type: 'text', text: text() });
      }
      messages.push({ role: 'user', content: parts });
    }
    cases.push({ body, kind, imageTokens });
  }
  return cases;
}

const corpus = makeCorpus();

/**
 * gpt-tokenizer's recipe for a case: its `countChatCompletionTokens` on the request mapped to its shape
 * (tools → functions, tool_choice → function_call, the first tool call → function_call), plus what it has no
 * field for: text parts (each counted with its `countTokens`), further tool calls (name + arguments + 3 each,
 * the function_call rule), and images (the hand-computed table).
 */
function reference(c: Case, encoding: 'o200k' | 'cl100k'): number {
  const tokenizer = encoding === 'o200k' ? gpt4o : gpt4turbo;
  const count = (s: string) => (encoding === 'o200k' ? o200kTokens : cl100kTokens)(s, { disallowedSpecial: new Set() });
  let extra = c.imageTokens;
  const messages: ChatMessage[] = (c.body.messages as Msg[]).map((m) => {
    const out: ChatMessage = { role: m.role as string, content: typeof m.content === 'string' ? m.content : '' };
    if (typeof m.name === 'string') out.name = m.name;
    if (Array.isArray(m.content)) for (const p of m.content as Msg[]) if (p.type === 'text') extra += count(p.text as string);
    const calls = (m.tool_calls ?? []) as { function: { name: string; arguments: string } }[];
    if (calls.length > 0) out.function_call = calls[0].function;
    for (const call of calls.slice(1)) extra += count(call.function.name) + count(call.function.arguments) + 3;
    return out;
  });
  const request: ChatCompletionRequest = { messages };
  const tools = c.body.tools as { function: Body }[] | undefined;
  if (tools) request.functions = tools.map((t) => t.function) as unknown as ChatCompletionRequest['functions'];
  const choice = c.body.tool_choice;
  if (choice === 'auto' || choice === 'none') request.function_call = choice;
  else if (typeof choice === 'object' && choice !== null) request.function_call = (choice as { function: { name: string } }).function;
  return tokenizer.countChatCompletionTokens!(request) + extra;
}

describe('countChatPromptTokens on a generated corpus', () => {
  it('has at least 50 varied requests', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(50);
    const bodies = JSON.stringify(corpus.map((c) => c.body));
    for (const needle of ['tool_calls', '"tool"', 'image_url', '東京', '👩‍👩‍👧‍👦', '"name"', '<|endoftext|>']) {
      expect(bodies).toContain(needle);
    }
    expect(Math.max(...corpus.map((c) => JSON.stringify(c.body).length))).toBeGreaterThan(8000);
  });

  const o200kModels = ['gpt-4o', 'gpt-4.1-mini', 'o3', 'gpt-5', 'openai/gpt-4o-mini'];
  const cl100kModels = ['gpt-4-turbo', 'gpt-3.5-turbo', 'gpt-35-turbo', 'gpt-4'];

  it('equals the exact reference for text messages: encodeChat and countChatCompletionTokens', () => {
    const texts = corpus.filter((c) => c.kind === 'text');
    texts.forEach((c, i) => {
      const messages = c.body.messages as ChatMessage[];
      expect(countChatPromptTokens(c.body, o200kModels[i % 5])).toBe(gpt4o.encodeChat(messages).length);
      expect(countChatPromptTokens(c.body, cl100kModels[i % 4])).toBe(gpt4turbo.encodeChat(messages).length);
      expect(countChatPromptTokens(c.body, 'gpt-4o')).toBe(reference(c, 'o200k'));
    });
  });

  it.each(['named', 'tools', 'parts'] as const)('equals the gpt-tokenizer recipe for %s requests', (kind) => {
    corpus
      .filter((c) => c.kind === kind)
      .forEach((c, i) => {
        expect(countChatPromptTokens(c.body, o200kModels[i % 5])).toBe(reference(c, 'o200k'));
        expect(countChatPromptTokens(c.body, cl100kModels[i % 4])).toBe(reference(c, 'cl100k'));
      });
  });

  it.each([
    ['claude-sonnet-4-5', 1.3], ['gemini-2.5-pro', 1.2], ['llama-3.3-70b-versatile', 1.2], ['mistral-large-latest', 1.25],
    ['deepseek-chat', 1.15], ['qwen-max', 1.15], ['some-unknown-model', 1.25],
  ])('%s over-counts the cl100k recipe by its margin (%f)', (model, margin) => {
    expect(encodingFor(model).margin).toBe(margin);
    for (const c of corpus) {
      const estimate = countChatPromptTokens(c.body, model);
      const base = reference(c, 'cl100k');
      expect(estimate).toBeGreaterThanOrEqual(base);
      // Text requests are the recipe times the margin; tools (as JSON) and images (cross-family rule) add more.
      if (c.kind === 'text' || c.kind === 'named') expect(estimate).toBe(Math.ceil(base * margin));
    }
  });
});
