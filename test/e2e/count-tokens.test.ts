// The official Anthropic SDK's `messages.countTokens` → lifeline serve (POST /v1/messages/count_tokens), answered
// offline with the gateway's own tokenizer: no upstream call, Anthropic's shapes for the answer and the errors.
import Anthropic, { APIError, BadRequestError, NotFoundError } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countChatPromptTokens } from '../../src/context/index.js';
import { parseAnthropicCountRequest } from '../../src/server/dialects/anthropic/request.js';
import { startStack, type Stack } from '../support/helpers.js';

let stack: Stack;
let client: Anthropic;
beforeAll(async () => {
  stack = await startStack({
    models: {
      // Each client-facing model counts with its first deployment's tokenizer (and margin).
      claude: { targets: [{ provider: 'upstream', model: 'claude-sonnet-4-5' }, { provider: 'upstream', model: 'gpt-4o' }] },
      gpt: { targets: [{ provider: 'upstream', model: 'gpt-4o' }] },
    },
  });
  client = new Anthropic({ baseURL: stack.server.url, apiKey: 'sk-ant-client', maxRetries: 0, timeout: 20_000 });
});
afterAll(async () => {
  await stack.close();
});

const weatherTool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
};

async function rejection(call: Promise<unknown>): Promise<APIError> {
  const error = await call.then(
    (value) => {
      throw new Error(`expected the request to fail, it answered ${JSON.stringify(value).slice(0, 200)}`);
    },
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(APIError);
  return error as APIError;
}

describe('POST /v1/messages/count_tokens', () => {
  it("answers {input_tokens} from the first deployment's tokenizer, growing with the prompt, without an upstream call", async () => {
    const short = { model: 'claude', messages: [{ role: 'user' as const, content: 'Say hello' }] };
    const long = { model: 'claude', messages: [{ role: 'user' as const, content: 'Say hello, and then say a great deal more. '.repeat(200) }] };
    const small = await client.messages.countTokens(short);
    const big = await client.messages.countTokens(long);
    expect(small.input_tokens).toBeGreaterThan(0);
    expect(big.input_tokens).toBeGreaterThan(small.input_tokens * 50);

    // A system prompt and tools count too.
    const withSystem = await client.messages.countTokens({ ...short, system: 'You are a careful assistant who answers briefly.' });
    expect(withSystem.input_tokens).toBeGreaterThan(small.input_tokens);
    const withTools = await client.messages.countTokens({ ...short, tools: [weatherTool] });
    expect(withTools.input_tokens).toBeGreaterThan(small.input_tokens);

    // The count is the gateway's own, for the deployment's model: Claude's estimate (margined) vs gpt-4o's exact.
    const canonical = parseAnthropicCountRequest(long).canonical;
    expect(big.input_tokens).toBe(countChatPromptTokens(canonical, 'claude-sonnet-4-5'));
    const viaGpt = await client.messages.countTokens({ ...long, model: 'gpt' });
    expect(viaGpt.input_tokens).toBe(countChatPromptTokens(canonical, 'gpt-4o'));
    expect(viaGpt.input_tokens).not.toBe(big.input_tokens);

    expect(stack.mock.stats().records).toHaveLength(0);
  });

  it('an unknown model is an Anthropic-shaped 404; a bad body an Anthropic-shaped 400 naming the field', async () => {
    const unknown = await rejection(client.messages.countTokens({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] }));
    expect(unknown).toBeInstanceOf(NotFoundError);
    const body = unknown.error as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('not_found_error');
    expect(body.error.message).toContain("'nope'");

    const bad = await rejection(client.messages.countTokens({ model: 'claude', messages: [] }));
    expect(bad).toBeInstanceOf(BadRequestError);
    const badBody = bad.error as { type: string; error: { type: string; message: string } };
    expect(badBody.error.type).toBe('invalid_request_error');
    expect(badBody.error.message).toMatch(/^messages:/);

    const wrongMethod = await fetch(`${stack.server.url}/v1/messages/count_tokens`);
    expect(wrongMethod.status).toBe(405);
    expect(((await wrongMethod.json()) as { type: string }).type).toBe('error');
    expect(stack.mock.stats().records).toHaveLength(0);
  });
});
