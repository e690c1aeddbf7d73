import { describe, expect, it } from 'vitest';
import { tokenUsageOf, usageInJson } from '../../../src/accounting/cost.js';

describe('usage of an answer, for metrics and the request line', () => {
  it('chat, embeddings and Responses shapes', () => {
    expect(tokenUsageOf({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, prompt_tokens_details: { cached_tokens: 4 } })).toEqual({
      prompt_tokens: 10,
      completion_tokens: 5,
      total_tokens: 15,
      cached_tokens: 4,
    });
    expect(tokenUsageOf({ prompt_tokens: 8, total_tokens: 8 })).toEqual({ prompt_tokens: 8, completion_tokens: 0, total_tokens: 8 });
    expect(tokenUsageOf({ input_tokens: 3, output_tokens: 2, input_tokens_details: { cached_tokens: 1 } })).toEqual({
      prompt_tokens: 3,
      completion_tokens: 2,
      total_tokens: 5,
      cached_tokens: 1,
    });
    expect(tokenUsageOf({ nothing: 1 })).toBeUndefined();
    expect(tokenUsageOf(null)).toBeUndefined();
  });

  it('finds the usage object of a JSON answer without parsing the rest', () => {
    const answer = { id: 'x', choices: [{ message: { content: 'the "usage": {"prompt_tokens": 999} in text' } }], usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 } };
    expect(usageInJson(JSON.stringify(answer))).toEqual({ prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 });
    expect(usageInJson(JSON.stringify(answer, null, 2))).toMatchObject({ prompt_tokens: 12 });
    expect(usageInJson('{"choices":[]}')).toBeUndefined();
    expect(usageInJson('{"usage": null}')).toBeUndefined();
    expect(usageInJson('{"usage": {"prompt_tokens": 1')).toBeUndefined();
  });
});
