/**
 * Offline token counting (src/context). References are computed independently with gpt-tokenizer's own helpers
 * (its ESM build, a separate module instance from the one src/context loads):
 *
 * - exact: text messages (framing, roles, names, reply priming) must equal gpt-tokenizer's `encodeChat` token
 *   sequence and its `countChatCompletionTokens`, and a few real API counts published in OpenAI's cookbook;
 * - estimates that must still equal gpt-tokenizer's recipe: function/tool definitions, tool calls, tool_choice;
 * - estimates checked against OpenAI's documented numbers: images (85 low; 765 for 1024×1024 high…);
 * - other families: an over-count of the cl100k recipe by exactly their documented margin.
 */
import { createRequire } from 'node:module';
import { countTokens as cl100kTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import { countTokens as o200kTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { ChatCompletionRequest, ChatMessage } from 'gpt-tokenizer/GptEncoding';
import * as gpt4o from 'gpt-tokenizer/model/gpt-4o';
import * as gpt4turbo from 'gpt-tokenizer/model/gpt-4-turbo';
import { describe, expect, it } from 'vitest';
import {
  audioTokens,
  countChatPromptTokens,
  countTextTokens,
  encodingFor,
  fileTokens,
  imageSizeFromDataUrl,
  normalizeModelName,
  openAIImageTokens,
  PDF_PAGE_TOKENS,
} from '../src/context/index.js';

type Body = Record<string, unknown>;
type Msg = Record<string, unknown>;

const loadedBpe = () =>
  Object.keys(createRequire(import.meta.url).cache).filter((path) => path.includes('gpt-tokenizer/cjs/bpeRanks'));

describe('loading', () => {
  // Runs first: nothing in this file has counted yet (the ESM imports above do not use the require cache).
  it('loads an encoding only when something is counted with it', () => {
    expect(loadedBpe()).toEqual([]);
    encodingFor('gpt-4o');
    expect(loadedBpe()).toEqual([]);
    countTextTokens('', 'gpt-4o');
    expect(loadedBpe()).toEqual([]);
    expect(countTextTokens('hello world', 'gpt-4o')).toBe(2);
    expect(loadedBpe().map((p) => p.slice(p.lastIndexOf('/') + 1))).toEqual(['o200k_base.js']);
  });
});

describe('encodingFor', () => {
  const o200k = ['gpt-4o', 'gpt-4o-mini-2024-07-18', 'chatgpt-4o-latest', 'gpt-4.1-nano', 'gpt-4.5-preview', 'gpt-5',
    'gpt-5.1-codex-mini', 'o1', 'o3-mini', 'o4-mini-2025-04-16', 'gpt-oss-120b', 'openai/gpt-oss-20b',
    'openai.gpt-oss-120b-1:0', 'ft:gpt-4o-mini-2024-07-18:acme::abc123', 'prod-gpt-4o-eastus', 'GPT-4O'];
  const cl100k = ['gpt-4', 'gpt-4-0613', 'gpt-4-turbo-2024-04-09', 'gpt-4-1106-preview', 'gpt-3.5-turbo',
    'gpt-35-turbo-16k', 'azure/gpt-35-turbo', 'text-embedding-3-small', 'text-embedding-ada-002'];
  const others: [string, string][] = [
    ['claude-3-5-sonnet-latest', 'anthropic'], ['us.anthropic.claude-3-7-sonnet-20250219-v1:0', 'anthropic'],
    ['gemini-2.0-flash', 'google'], ['publishers/google/models/gemini-1.5-pro', 'google'],
    ['meta-llama/Llama-3.1-70B-Instruct', 'meta'], ['mistral-large-latest', 'mistral'],
    ['us.deepseek.r1-v1:0', 'deepseek'], ['Qwen/Qwen2.5-72B-Instruct', 'qwen'], ['my-private-model', 'other'],
  ];
  const table: [string, string, string][] = [
    ...o200k.map((m): [string, string, string] => [m, 'o200k_base', 'openai']),
    ...cl100k.map((m): [string, string, string] => [m, 'cl100k_base', 'openai']),
    ...others.map(([m, family]): [string, string, string] => [m, 'cl100k_base', family]),
  ];
  it.each(table)('%s → %s (%s)', (model, encoding, family) => {
    const choice = encodingFor(model);
    expect(choice.encoding).toBe(encoding);
    expect(choice.family).toBe(family);
    expect(choice.exact).toBe(family === 'openai');
    if (choice.exact) expect(choice.margin).toBe(1);
    else expect(choice.margin).toBeGreaterThanOrEqual(1.15);
  });

  it('normalizes provider spellings', () => {
    expect(normalizeModelName(' OpenAI/GPT-4o ')).toBe('gpt-4o');
    expect(normalizeModelName('ft:gpt-4o-mini-2024-07-18:org::id')).toBe('gpt-4o-mini-2024-07-18');
    expect(normalizeModelName('anthropic.claude-3-haiku-20240307-v1:0')).toBe('claude-3-haiku-20240307-v1');
    expect(normalizeModelName('llama3.1:8b')).toBe('llama3.1');
  });
});

describe('known real counts', () => {
  it('text: "hello world" is 2 tokens; OpenAI cookbook: お誕生日おめでとう is 9 (cl100k) and 8 (o200k)', () => {
    expect(countTextTokens('hello world', 'gpt-4')).toBe(2);
    expect(countTextTokens('hello world', 'gpt-4o')).toBe(2);
    expect(countTextTokens('お誕生日おめでとう', 'gpt-3.5-turbo')).toBe(9);
    expect(countTextTokens('お誕生日おめでとう', 'gpt-4o-mini')).toBe(8);
  });

  it('special-token spellings are ordinary text, never an error', () => {
    const text = 'end of text: <|endoftext|> and <|im_start|>';
    expect(countTextTokens(text, 'gpt-4')).toBe(cl100kTokens(text, { disallowedSpecial: new Set() }));
    expect(countTextTokens(text, 'gpt-4o')).toBeGreaterThan(10);
  });

  // The cookbook's "How to count tokens with tiktoken", checked there against the API's usage.prompt_tokens.
  const cookbook: Msg[] = [
    { role: 'system', content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.' },
    { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
    { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
    { role: 'system', name: 'example_user', content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage." },
    { role: 'system', name: 'example_assistant', content: "Let's talk later when we're less busy about how to do better." },
    { role: 'user', content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
  ];
  const weatherTool = {
    type: 'function',
    function: {
      name: 'get_current_weather',
      description: 'Get the current weather in a given location',
      parameters: {
        type: 'object',
        properties: {
          location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
          unit: { type: 'string', description: 'The unit of temperature to return', enum: ['celsius', 'fahrenheit'] },
        },
        required: ['location'],
      },
    },
  };
  const weatherChat: Msg[] = [
    { role: 'system', content: 'You are a helpful assistant that can answer to questions about the weather.' },
    { role: 'user', content: "What's the weather like in San Francisco?" },
  ];
  it.each([
    ['gpt-3.5-turbo', 129, 105],
    ['gpt-4', 129, 105],
    ['gpt-4o', 124, 101],
    ['gpt-4o-mini', 124, 101],
  ])('%s: %i prompt tokens for the chat example, %i for the tools example', (model, chat, tools) => {
    expect(countChatPromptTokens({ messages: cookbook }, model)).toBe(chat);
    expect(countChatPromptTokens({ messages: weatherChat, tools: [weatherTool] }, model)).toBe(tools);
  });

  it("images: OpenAI's documented costs", () => {
    expect(openAIImageTokens({ width: 4096, height: 8192 }, 'low')).toBe(85);
    expect(openAIImageTokens({ width: 1024, height: 1024 }, 'high')).toBe(765);
    expect(openAIImageTokens({ width: 2048, height: 4096 }, 'high')).toBe(1105);
    expect(openAIImageTokens(undefined, 'auto')).toBe(765); // unknown size: the documented default
  });
});

// ---- the generated corpus ----

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

function pngDataUrl(width: number, height: number): string {
  const b = Buffer.alloc(33);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return `data:image/png;base64,${b.toString('base64')}`;
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

describe('estimates beyond the recipe', () => {
  it('renders schema unions, $ref and $defs rather than counting them as "any"', () => {
    const fn = {
      name: 'lookup',
      parameters: {
        type: 'object',
        properties: {
          id: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
          kind: { type: ['string', 'null'], enum: ['a', 'b', null] },
          owner: { $ref: '#/$defs/Person' },
        },
        $defs: { Person: { type: 'object', properties: { name: { type: 'string' } } } },
      },
    };
    const body = { messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: fn }] };
    const request = { messages: [{ role: 'user', content: 'hi' }], functions: [fn] } as unknown as ChatCompletionRequest;
    expect(countChatPromptTokens(body, 'gpt-4o')).toBeGreaterThan(gpt4o.countChatCompletionTokens!(request) + 10);
  });

  it('counts a json_schema response_format as its JSON, name and 10 tokens', () => {
    const base = { messages: [{ role: 'user', content: 'Give me a JSON object.' }] };
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
    const withFormat = { ...base, response_format: { type: 'json_schema', json_schema: { name: 'reply', schema } } };
    const plain = countChatPromptTokens(base, 'gpt-4o');
    expect(countChatPromptTokens(withFormat, 'gpt-4o')).toBe(plain + o200kTokens(JSON.stringify(schema)) + o200kTokens('reply') + 10);
    expect(countChatPromptTokens({ ...base, response_format: { type: 'json_object' } }, 'gpt-4o')).toBe(plain);
  });

  it('reads image sizes from PNG, GIF, WebP and JPEG data URLs', () => {
    const url = (mime: string, bytes: number[]) => `data:${mime};base64,${Buffer.from(bytes).toString('base64')}`;
    expect(imageSizeFromDataUrl(pngDataUrl(1920, 1080))).toEqual({ width: 1920, height: 1080 });
    const gif = [...Buffer.from('GIF89a'), 0x40, 0x01, 0xf0, 0x00, 0, 0, 0];
    expect(imageSizeFromDataUrl(url('image/gif', gif))).toEqual({ width: 320, height: 240 });
    const webp = [...Buffer.from('RIFF'), 0, 0, 0, 0, ...Buffer.from('WEBPVP8X'), 10, 0, 0, 0, 0, 0, 0, 0];
    webp.push(0xff, 0x0f, 0x00, 0x37, 0x08, 0x00); // canvas 4096 × 2104 (stored minus one, 24-bit LE)
    expect(imageSizeFromDataUrl(url('image/webp', webp))).toEqual({ width: 4096, height: 2104 });
    const app0 = [0xff, 0xe0, 0x00, 0x10, ...Buffer.from('JFIF\0'), 1, 1, 0, 0, 1, 0, 1, 0, 0];
    const sof0 = [0xff, 0xc0, 0x00, 0x11, 8, 0x02, 0xd0, 0x05, 0x00, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
    expect(imageSizeFromDataUrl(url('image/jpeg', [0xff, 0xd8, ...app0, ...sof0]))).toEqual({ width: 1280, height: 720 });
    expect(imageSizeFromDataUrl('https://example.com/a.png')).toBeUndefined();
    expect(imageSizeFromDataUrl('data:image/png;base64,AAAA')).toBeUndefined();
  });

  it('estimates audio at 10 tokens a second and PDFs by page', () => {
    const wav = Buffer.alloc(44 + 32000 * 3); // 3 s of 16 kHz 16-bit mono
    wav.write('RIFF', 0, 'latin1');
    wav.write('WAVE', 8, 'latin1');
    wav.writeUInt32LE(32000, 28);
    expect(audioTokens({ data: wav.toString('base64'), format: 'wav' })).toBe(31); // 3.001 s, rounded up
    expect(audioTokens({ data: Buffer.alloc(8000).toString('base64'), format: 'mp3' })).toBe(20); // 2 s at 32 kbit/s
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Pages /Count 2 >>\n2 0 obj << /Type /Page >>\n3 0 obj << /Type/Page >>');
    expect(fileTokens({ file_data: `data:application/pdf;base64,${pdf.toString('base64')}` })).toBe(2 * PDF_PAGE_TOKENS);
    expect(fileTokens({ file_id: 'file-abc' })).toBe(4 * PDF_PAGE_TOKENS);
  });

  it('prices images by the cross-family rule for other models', () => {
    const body = { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: pngDataUrl(1024, 1024) } }] }] };
    const frame = 3 + 1 + 3; // message framing + "user" + reply priming
    expect(countChatPromptTokens(body, 'gpt-4o')).toBe(frame + 765);
    expect(countChatPromptTokens(body, 'claude-3-5-haiku')).toBe(Math.ceil((frame + Math.ceil((1024 * 1024) / 750)) * 1.3));
    const remote = { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] };
    expect(countChatPromptTokens(remote, 'gemini-2.0-flash')).toBe(Math.ceil((frame + 1600) * 1.2));
  });

  it('treats malformed bodies as empty rather than throwing', () => {
    expect(countChatPromptTokens({}, 'gpt-4o')).toBe(3);
    expect(countChatPromptTokens({ messages: 'hi', tools: 'x', tool_choice: 5 }, 'gpt-4o')).toBe(3);
    expect(countChatPromptTokens({ messages: [null, 1, { role: 5, content: { a: 1 } }] }, 'gpt-4o')).toBe(6);
  });
});
