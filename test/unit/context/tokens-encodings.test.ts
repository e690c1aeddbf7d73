/**
 * Offline token counting (src/context), per model: which encoding and family a model name gets (loaded only when
 * something is counted), and counts that must equal published numbers: gpt-tokenizer's for plain text, real API
 * counts from OpenAI's cookbook, and OpenAI's documented image costs (85 low; 765 for 1024×1024 high…).
 * gpt-tokenizer is imported as its ESM build, a separate module instance from the one src/context loads.
 * The generated corpus is in tokens-corpus.test.ts, estimates beyond gpt-tokenizer's recipe in
 * tokens-estimates.test.ts.
 */
import { createRequire } from 'node:module';
import { countTokens as cl100kTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import { describe, expect, it } from 'vitest';
import { countChatPromptTokens, countTextTokens, encodingFor, normalizeModelName, openAIImageTokens } from '../../../src/context/index.js';
import type { Msg } from '../../support/context.js';

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
