// Shared by the mock's answer, fault and control tests (test/unit/mock/{answers,faults,control}.test.ts): a mock per
// test, an SDK client or plain fetch against it, and readers for its error bodies and SSE streams.
import OpenAI from 'openai';
import { type MockOptions, type MockServer, startMock } from '../../src/mock/index.js';

export async function withMock(options: MockOptions, run: (mock: MockServer) => Promise<void>): Promise<void> {
  const mock = await startMock(options);
  try {
    await run(mock);
  } finally {
    await mock.close();
  }
}

export function client(mock: MockServer, extra: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}): OpenAI {
  return new OpenAI({ baseURL: mock.url, apiKey: 'sk-test', maxRetries: 0, logLevel: 'off', ...extra });
}

export const MESSAGES = [{ role: 'user' as const, content: 'Say something nice about resilient systems.' }];
export const CHAT = { model: 'gpt-4o', messages: MESSAGES };

export function post(mock: MockServer, path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${mock.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
}

export interface ErrorShape {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

export async function errorOf(res: Response): Promise<ErrorShape> {
  return ((await res.json()) as { error: ErrorShape }).error;
}

/** The `data:` payloads of an SSE body. */
export function dataOf(sse: string): string[] {
  return sse
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice('data: '.length));
}
