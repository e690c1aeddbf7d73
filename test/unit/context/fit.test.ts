import { describe, expect, it } from 'vitest';
import { checkFit, clampOutput, countChatPromptTokens, countChatPromptTokensAsync, middleOut, PromptEstimate, promptBudget, requestedOutput } from '../../../src/context/index.js';
import { resolveConfig } from '../../../src/config/index.js';
import { Fitter } from '../../../src/context/plan.js';
import { buildRoutes, type RoutedTarget } from '../../../src/routing/routes.js';
import { targetWindow } from '../../../src/pipeline/windows.js';
import { turnCounter } from '../../support/loop-turns.js';

type Message = { role: string; content: string | null; tool_calls?: unknown[]; tool_call_id?: string };

/** A long conversation: a system prompt, a task, then turns with tool calls and their results, and a question. */
function conversation(turns: number): Message[] {
  const messages: Message[] = [
    { role: 'system', content: 'You are a careful assistant. Answer briefly.' },
    { role: 'user', content: 'FIRST: here is the task I need help with, in detail.' },
  ];
  for (let i = 0; i < turns; i++) {
    if (i % 10 === 5) {
      messages.push({ role: 'assistant', content: null, tool_calls: [{ id: `call_${i}`, type: 'function', function: { name: 'lookup', arguments: `{"q":"item ${i}"}` } }] });
      messages.push({ role: 'tool', tool_call_id: `call_${i}`, content: `result for item ${i}: ${'data '.repeat(20)}` });
    } else {
      messages.push({ role: i % 2 === 0 ? 'user' : 'assistant', content: `turn ${i}: ${'words and more words '.repeat(10)}` });
    }
  }
  messages.push({ role: 'user', content: 'LAST: so what is the answer?' });
  return messages;
}

const count = (body: Record<string, unknown>) => countChatPromptTokens(body, 'gpt-4o');

describe('middle-out', async () => {
  it('fits a 300-message conversation into the budget, keeping system, first and last, with a marker', async () => {
    const messages = conversation(300);
    const body = { model: 'gpt-4o', messages };
    const before = count(body);
    const budget = 4000;
    expect(before).toBeGreaterThan(budget * 3);
    const result = await middleOut(body, budget, count);
    expect(result).toBeDefined();
    const out = result!.body.messages as Message[];
    expect(count(result!.body)).toBeLessThanOrEqual(budget);
    expect(out[0]).toBe(messages[0]);
    expect(out[1]).toBe(messages[1]);
    expect(out.at(-1)).toBe(messages.at(-1));
    const markers = out.filter((m) => typeof m.content === 'string' && m.content.includes('removed here by the gateway (middle-out)'));
    expect(markers).toHaveLength(1);
    expect(result!.removed).toBe(messages.length - (out.length - 1));
    // what stays is as close to the budget as whole messages allow: not trimmed far below it
    expect(count(result!.body)).toBeGreaterThan(budget * 0.9);
    // a tool result never loses its call, nor a call its result
    for (let i = 0; i < out.length; i++) {
      const m = out[i]!;
      if (m.role === 'tool') expect(out[i - 1]?.tool_calls ?? out[i - 1]?.role).toBeTruthy();
      if (m.tool_calls) expect(out[i + 1]?.role).toBe('tool');
    }
    const calls = out.filter((m) => m.tool_calls).length;
    expect(out.filter((m) => m.role === 'tool')).toHaveLength(calls);
  });

  it('takes from the middle first: the newest and oldest turns survive', async () => {
    const messages = conversation(40);
    const result = (await middleOut({ model: 'gpt-4o', messages }, count({ model: 'gpt-4o', messages }) - 500, count))!;
    const out = result.body.messages as Message[];
    expect(out[2]).toBe(messages[2]);
    expect(out.at(-2)).toBe(messages.at(-2));
  });

  it('cuts the middle of a single huge message when removing messages is not enough', async () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: `START ${'lorem ipsum dolor '.repeat(5000)} END` }] };
    const result = (await middleOut(body, 2000, count))!;
    const last = (result.body.messages as Message[]).at(-1)!.content as string;
    expect(count(result.body)).toBeLessThanOrEqual(2000);
    expect(last.startsWith('START')).toBe(true);
    expect(last.endsWith('END')).toBe(true);
    expect(last).toContain('cut by the gateway (middle-out)');
    expect(result.truncated).toBe(1);
  });

  it('leaves a request that fits alone, and gives up when the protected messages alone are too big', async () => {
    const small = { model: 'gpt-4o', messages: conversation(2) };
    expect(await middleOut(small, 100_000, count)).toEqual({ body: small, removed: 0, truncated: 0 });
    const hopeless = { model: 'gpt-4o', messages: [{ role: 'system', content: 'x '.repeat(5000) }, { role: 'user', content: 'hi' }] };
    expect(await middleOut(hopeless, 10, count)).toBeUndefined();
  });

  it('counting in slices, it gives the event loop turns on a ~1 MB conversation and trims exactly as counting in one piece', async () => {
    // Long turns: every message is ~4 KB, so the counts of the whole and of what is kept run to hundreds of KB.
    const messages = conversation(240).map((m) => (typeof m.content === 'string' && m.content.startsWith('turn') ? { ...m, content: m.content.repeat(20) } : m));
    const body = { model: 'gpt-4o', messages };
    expect(JSON.stringify(body).length).toBeGreaterThan(900_000);
    const budget = 60_000;
    const sync = await middleOut(body, budget, count);
    const counter = turnCounter();
    let turns: number;
    try {
      const sliced = await middleOut(body, budget, (b) => countChatPromptTokensAsync(b, 'gpt-4o'));
      expect(sliced).toEqual(sync);
    } finally {
      turns = counter.stop();
    }
    expect(sync?.removed).toBeGreaterThan(0);
    expect(turns).toBeGreaterThan(20); // the loop went round many times: the trimming did not hold it
  });
});

describe('fit checks', () => {
  const window = { model: 'gpt-4o', contextWindow: 1000, maxOutput: 300 };

  it('counts only when the byte bound cannot decide', () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] };
    const estimate = new PromptEstimate(body, 60);
    expect(checkFit(estimate, { ...window, contextWindow: 128_000 }, 100)).toEqual({ fits: true, need: 0 }); // 60 bytes: surely fits, not counted
    expect(checkFit(estimate, window, 100).need).toBe(count(body) + 100); // too close to call: counted
    const big = new PromptEstimate({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello '.repeat(990) }] }, 6000);
    const check = checkFit(big, window, 100);
    expect(check.fits).toBe(false);
    expect(check.need).toBe(count(big.body) + 100);
    expect(checkFit(big, { ...window, contextWindow: undefined }, 100).fits).toBe(true); // unknown window: never excluded
    // An input cap inside the window: the prompt must fit it on its own, whatever the window leaves.
    const capped = { ...window, contextWindow: 100_000, maxInput: 900 };
    expect(checkFit(big, capped, 100)).toEqual({ fits: false, need: count(big.body) + 100 });
    expect(checkFit(big, { ...capped, maxInput: 2000 }, 100).fits).toBe(true);
    expect(checkFit(big, { ...capped, contextWindow: undefined }, 100).fits).toBe(false); // a cap alone still counts
    expect(promptBudget(capped, 300)).toBe(900);
    expect(promptBudget({ ...capped, maxInput: undefined }, 300)).toBe(99_700);
    const image = new PromptEstimate({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] }, 80);
    expect(image.upperBound()).toBe(Number.POSITIVE_INFINITY);
  });

  it('clamps max_tokens to what the window leaves and to the max output', () => {
    const estimate = new PromptEstimate({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello '.repeat(780) }] }, undefined);
    const prompt = estimate.tokens('gpt-4o');
    expect(clampOutput(estimate, window, 500)).toBe(1000 - prompt);
    expect(clampOutput(estimate, window, 10)).toBeUndefined();
    expect(clampOutput(estimate, { ...window, contextWindow: 100_000 }, 5000)).toBe(300);
    expect(requestedOutput({ max_tokens: 5 })).toBe(5);
    expect(requestedOutput({ max_completion_tokens: 7, max_tokens: 5 })).toBe(7);
    expect(requestedOutput({})).toBeUndefined();
  });
});

describe('Fitter with middle-out', () => {
  it('trims a ~1 MB conversation without holding the event loop, and the trimmed request fits', async () => {
    const config = resolveConfig({
      providers: { p: { type: 'openai', api_key: 'k', base_url: 'http://127.0.0.1:9/v1' } },
      models: { m: { targets: [{ provider: 'p', model: 'gpt-4o', context_window: 8_000, max_output_tokens: 4_000 }], transforms: ['middle-out'] } },
    });
    const routes = buildRoutes(config);
    const messages = conversation(240).map((m) => (typeof m.content === 'string' && m.content.startsWith('turn') ? { ...m, content: m.content.repeat(20) } : m));
    const body = { model: 'm', messages };
    const estimate = new PromptEstimate(body, JSON.stringify(body).length);
    const fitter = new Fitter(routes, targetWindow);
    const route = routes.get('m')!;
    await estimate.prefetch(fitter.unsettled(route, estimate)); // what `fit` counts first: the whole prompt
    const counter = turnCounter();
    let planned: Awaited<ReturnType<Fitter<RoutedTarget>['plan']>>;
    let turns: number;
    try {
      planned = await fitter.plan(route, estimate, true);
    } finally {
      turns = counter.stop();
    }
    expect(planned.ok).toBe(true);
    if (!planned.ok) return;
    expect(planned.applied?.[0]).toMatch(/middle-out removed \d+ message/);
    expect(countChatPromptTokens(planned.body!, 'gpt-4o')).toBeLessThanOrEqual(8_000 - 4_000);
    // Nearly every message (~4 KB each, ~1 MB in all) was counted to be removed, and what is kept is ~16 KB: the
    // turns come from pacing those many small counts together.
    expect(turns).toBeGreaterThan(20);
  });
});

describe('Fitter: the byte-bound shortcut', () => {
  // A roomy deployment, one with an input cap, one with a small window.
  const config = resolveConfig({
    providers: { p: { type: 'openai', api_key: 'k', base_url: 'http://127.0.0.1:9/v1' } },
    models: {
      m: {
        targets: [
          { provider: 'p', model: 'gpt-4o', context_window: 128_000 },
          { provider: 'p', model: 'gpt-4o', context_window: 128_000, max_input_tokens: 2_000 },
          { provider: 'p', model: 'gpt-4o', context_window: 16_000 },
        ],
      },
    },
  });
  const routes = buildRoutes(config);
  const route = routes.get('m')!;
  const plan = (body: Record<string, unknown>) => new Fitter(routes, targetWindow).fit(route, new PromptEstimate(body, JSON.stringify(body).length), false);
  const small = { model: 'm', messages: [{ role: 'user', content: 'hello' }] };
  const allowed = (fit: Awaited<ReturnType<typeof plan>>) => {
    if (!fit.ok) throw new Error('expected a plan');
    return route.targets.map((t) => fit.allow?.(t) ?? true);
  };

  it('lets a small request through at once, decided by its size against the tightest limits', () => {
    expect(plan(small)).toEqual({ ok: true });
    expect(plan({ ...small, max_tokens: 14_000 })).toEqual({ ok: true }); // bound + 14k is within the 16k window
  });

  it('still counts when the requested output does not fit the smallest window: that deployment is left out', async () => {
    expect(allowed(await plan({ ...small, max_tokens: 20_000 }))).toEqual([true, true, false]);
  });

  it('still counts when the prompt may be over an input cap, though within every window', async () => {
    // 10 KB of one-token words: a byte bound of ~14k tokens (under 16k), and ~5,000 tokens (over the 2,000 cap).
    const body = { model: 'm', messages: [{ role: 'user', content: 'x '.repeat(5_000) }] };
    expect(allowed(await plan(body))).toEqual([true, false, true]);
  });
});
