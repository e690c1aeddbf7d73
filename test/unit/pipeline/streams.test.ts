import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../src/errors.js';
import { Cancel } from '../../../src/cancel.js';
import { hedgeDelay, LatencyWindow, race, type Racer } from '../../../src/pipeline/hedge.js';
import { streamAccounting } from '../../../src/pipeline/stream-attempt.js';
import { Resume, type ResumeHooks, type Segment } from '../../../src/pipeline/resume.js';
import { FlatText, Transcript, withPrefill } from '../../../src/pipeline/transcript.js';
import type { StreamEvent } from '../../../src/types.js';
import type { DeploymentHealth } from '../../../src/routing/health.js';
import { RecordingSink } from '../../support/recording-sink.js';

/** Pure pieces of resumed streams: the transcript (stitching), the Resume, the hedge race. */

const chunk = (id: string, delta: Record<string, unknown>, finish: string | null = null, usage?: object) =>
  JSON.stringify({ id, object: 'chat.completion.chunk', created: id === 'a' ? 1 : 2, model: `m-${id}`, choices: [{ index: 0, delta, finish_reason: finish }], ...(usage ? { usage } : {}) });

const body = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 50 };

describe('Transcript', () => {
  it('passes the first segment byte for byte and rewrites a continuation into the same answer', async () => {
    const t = new Transcript('gpt-4o', 1000);
    const first = [chunk('a', { role: 'assistant', content: '' }), chunk('a', { content: 'Hello ' }), chunk('a', { content: 'wor' })];
    for (const c of first) expect(t.accept(c)).toBe(c);
    const next = await t.continuation(body, body);
    expect((next.messages as unknown[]).at(-1)).toEqual({ role: 'assistant', content: 'Hello wor', prefix: true });
    expect(next.max_tokens).toBeLessThan(50);
    expect(t.accept(chunk('b', { role: 'assistant', content: '', refusal: null }))).toBe(''); // a second role: dropped
    const rewritten = JSON.parse(t.accept(chunk('b', { content: 'ld' })));
    expect(rewritten).toMatchObject({ id: 'a', created: 1, model: 'm-a', choices: [{ delta: { content: 'ld' } }] });
    expect(rewritten.choices[0].delta.role).toBeUndefined();
    const usage = JSON.parse(t.accept(chunk('b', {}, 'stop', { prompt_tokens: 10, completion_tokens: 1, total_tokens: 11 })));
    expect(usage.choices[0].finish_reason).toBe('stop');
    expect(usage.usage.prompt_tokens).toBeGreaterThan(10); // the cut segment's prompt is added
    expect(usage.usage.completion_tokens).toBeGreaterThan(1);
    expect(usage.usage.total_tokens).toBe(usage.usage.prompt_tokens + usage.usage.completion_tokens);
    expect(await t.missingUsage(next)).toBeUndefined();
  });

  it('drops the trailing whitespace from the prefill and from the continuation, so the text is exact', async () => {
    const t = new Transcript('claude-x', 1000);
    t.accept(chunk('a', { content: 'The quiet ' }));
    const next = await t.continuation(body, body);
    expect((next.messages as Array<{ content: string }>).at(-1)?.content).toBe('The quiet');
    expect(JSON.parse(t.accept(chunk('b', { content: ' harbor ' }))).choices[0].delta.content).toBe('harbor ');
    expect(JSON.parse(t.accept(chunk('b', { content: ' guides' }))).choices[0].delta.content).toBe(' guides'); // only once
  });

  it('names why it cannot continue: tool calls, several choices, reasoning, too long', () => {
    const tool = new Transcript('gpt-4o', 1000);
    tool.accept(chunk('a', { tool_calls: [{ index: 0, function: { arguments: '{"q' } }] }));
    expect(tool.whyNoResume()).toMatch(/tool call/);
    const n2 = new Transcript('gpt-4o', 1000);
    n2.accept(JSON.stringify({ id: 'a', choices: [{ index: 1, delta: { content: 'x' } }] }));
    expect(n2.whyNoResume()).toMatch(/n > 1/);
    const thinking = new Transcript('deepseek-reasoner', 1000);
    thinking.accept(chunk('a', { reasoning_content: 'hmm' }));
    expect(thinking.whyNoResume()).toMatch(/reasoning/);
    const long = new Transcript('gpt-4o', 5);
    long.accept(chunk('a', { content: 'abcdef' }));
    expect(long.whyNoResume()).toMatch(/resume_max_chars/);
    const fine = new Transcript('gpt-4o', 5);
    fine.accept(chunk('a', { content: 'abc' }));
    expect(fine.whyNoResume()).toBeUndefined();
  });

  it('counts usage with the tokenizer when the upstream reports none', async () => {
    const t = new Transcript('gpt-4o', 1000);
    t.accept(chunk('a', { content: 'hello world' }));
    const usage = JSON.parse((await t.missingUsage(body))!);
    expect(usage).toMatchObject({ id: 'a', choices: [], usage: { completion_tokens: 2 } });
    expect(usage.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('keeps the text of a long answer exact across its blocks, and counts only the new segment for usage', async () => {
    const words = Array.from({ length: 21 }, (_, i) => `word-${String(i).padStart(2, '0')}-of-the-answer `);
    const completionOf = async (text: string): Promise<number> => {
      const alone = new Transcript('gpt-4o', 100_000);
      alone.accept(chunk('a', { content: text }));
      return JSON.parse((await alone.missingUsage(body))!).usage.completion_tokens;
    };
    const t = new Transcript('gpt-4o', 100_000);
    t.accept(chunk('a', { role: 'assistant', content: '' }));
    for (const w of words) t.accept(chunk('a', { content: w }));
    const next = await t.continuation(body, body);
    expect((next.messages as Array<{ content: string }>).at(-1)?.content).toBe(words.join('').trimEnd());
    for (const w of words.slice(0, 9)) t.accept(chunk('b', { content: w }));
    const usage = JSON.parse((await t.missingUsage(body))!).usage;
    expect(usage.completion_tokens).toBe((await completionOf(words.join(''))) + (await completionOf(words.slice(0, 9).join(''))));
  });

  it('FlatText: pieces come back joined, in order, whatever the block boundaries', () => {
    for (const n of [0, 1, 7, 8, 9, 16, 17, 100]) {
      const text = new FlatText();
      const pieces = Array.from({ length: n }, (_, i) => `piece ${i} ${'x'.repeat(i % 13)}|`);
      pieces.forEach((p, i) => {
        text.add(p);
        if (i === 3) expect(text.toString()).toBe(pieces.slice(0, 4).join('')); // read mid-way, then appended to
      });
      expect(text.toString()).toBe(pieces.join(''));
      expect(text.length).toBe(pieces.join('').length);
    }
  });

  it("withPrefill extends the client's own trailing assistant message instead of adding a second", () => {
    const own = { messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'Sure: ' }] };
    expect(withPrefill(own, 'one two', 0).messages).toEqual([{ role: 'user', content: 'q' }, { role: 'assistant', content: 'Sure: one two', prefix: true }]);
    expect(withPrefill(own, '', 0).messages).toEqual(own.messages);
    expect(own.messages).toHaveLength(2); // not mutated
  });
});

/** A segment whose feed writes these events (its head included) and ends as the last says: done, an error, or cut. */
function segment(deployment: string, ...list: StreamEvent[]): Segment {
  return {
    feed: {
      pump: async (sink) => {
        for (const e of list) {
          if (e.type === 'done') return 'done';
          if (e.type === 'error') return e.error;
          sink.write(e);
        }
        return cut;
      },
    },
    body,
    deployment,
  };
}

const cut = new GatewayError('connection', 'Upstream a ended the stream without [DONE]', { code: 'upstream_stream_truncated' });

describe('Resume', () => {
  const hooks = (resume: boolean, open: (b: Record<string, unknown>) => Promise<Segment>): ResumeHooks => ({
    transcript: () => new Transcript('gpt-4o', 1000),
    resume,
    maxResumes: 1,
    open,
    onResume: () => undefined,
    onUsage: () => undefined,
  });
  const first = (): Segment => segment('a', { type: 'chunk', data: chunk('a', { content: 'Hel' }) }, { type: 'error', error: cut });
  /** The answer written to a sink from its first segment, committed on `a` as the pipeline commits it. */
  async function answer(seg: Segment, h: ResumeHooks, out = new RecordingSink()): Promise<StreamEvent[]> {
    const r = new Resume(out, h);
    r.commit({ deployment: seg.deployment, attempts: 1 });
    await r.run(seg, new Cancel().signal);
    return out.events;
  }

  it('stitches a continuation in and ends with usage, a comment and done', async () => {
    const out = await answer(
      first(),
      hooks(true, async () => segment('b', { type: 'chunk', data: chunk('b', { content: 'lo' }, 'stop') }, { type: 'done' })),
    );
    expect(out.map((e) => e.type)).toEqual(['chunk', 'chunk', 'chunk', 'comment', 'done']);
    expect(out[3]).toEqual({ type: 'comment', text: 'x-lifeline-resumed: 1; on=b' });
  });

  it("is its segments' sink: only the first commit and the accepts before it reach the client; a continuation's chunks are rewritten as written", async () => {
    const out = new RecordingSink();
    const r = new Resume(out, hooks(true, async () => Promise.reject(new Error('unused'))));
    r.accepted({ deployment: 'a', attempts: 1 });
    r.commit({ deployment: 'a', attempts: 1 });
    r.write({ type: 'chunk', data: chunk('a', { content: 'Hel' }) }, true);
    r.accepted({ deployment: 'b', attempts: 2 });
    r.commit({ deployment: 'b', attempts: 2 });
    expect(out.log).toEqual(['accepted a', 'commit a', 'chunk!']);
    expect(out.events[0]).toEqual({ type: 'chunk', data: chunk('a', { content: 'Hel' }) }); // the first segment: as it came
  });

  it("observes the head only once its first token is out (nothing of the transcript's on the first token's path), in order", () => {
    const out = new RecordingSink();
    class Logged extends Transcript {
      override accept(data: string): string {
        out.log.push(`accept ${(JSON.parse(data) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content}`);
        return super.accept(data);
      }
    }
    const r = new Resume(out, { ...hooks(true, async () => Promise.reject(new Error('unused'))), transcript: () => new Logged('gpt-4o', 1000) });
    r.commit({ deployment: 'a', attempts: 1 });
    r.write({ type: 'chunk', data: chunk('a', { role: 'assistant', content: '' }) });
    r.write({ type: 'chunk', data: chunk('a', { content: 'Hel' }) }, true);
    r.write({ type: 'chunk', data: chunk('a', { content: 'lo' }) });
    expect(out.log).toEqual(['commit a', 'chunk', 'chunk!', 'accept ', 'accept Hel', 'chunk', 'accept lo']);
  });

  it('resume off, the resume limit, or no deployment → an error event that says why; never done', async () => {
    const off = await answer(first(), hooks(false, async () => Promise.reject(new Error('unused'))));
    expect(off.at(-1)).toMatchObject({ type: 'error', error: { message: /streaming.resume is off/, code: 'upstream_stream_truncated' } });
    const none = await answer(first(), hooks(true, async () => Promise.reject(new GatewayError('unavailable', 'nobody'))));
    expect(none.at(-1)).toMatchObject({ type: 'error', error: { message: /no deployment could continue it \(nobody\)/ } });
    const again = (): Promise<Segment> => Promise.resolve({ ...first(), deployment: 'b' });
    const limited = await answer(first(), hooks(true, again));
    expect(limited.at(-1)).toMatchObject({ type: 'error', error: { message: /already resumed 1 time/ } });
    const filtered = segment('a', { type: 'chunk', data: chunk('a', { content: 'Hel' }) }, { type: 'error', error: new GatewayError('content_policy', 'filtered') });
    const refused = await answer(filtered, hooks(true, async () => Promise.reject(new Error('must not be asked'))));
    expect(refused.at(-1)).toMatchObject({ type: 'error', error: { kind: 'content_policy', message: /refused to go on/ } });
    for (const out of [off, none, limited, refused]) expect(out.some((e) => e.type === 'done')).toBe(false);
  });

  it('a stream cut after its finish_reason is whole: it ends cleanly with counted usage', async () => {
    const seg = segment('a', { type: 'chunk', data: chunk('a', { content: 'Hi' }, 'stop') }, { type: 'error', error: cut });
    const out = await answer(seg, hooks(true, async () => Promise.reject(new Error('not needed'))));
    expect(out.map((e) => e.type)).toEqual(['chunk', 'chunk', 'done']);
  });

  it('a failure while ending the answer reaches the caller, and usage is still reported once', async () => {
    class Failing extends Transcript {
      override async missingUsage(): Promise<string | undefined> {
        throw new Error('count failed');
      }
    }
    let usage = 0;
    const seg = segment('a', { type: 'chunk', data: chunk('a', { content: 'Hi' }, 'stop') }, { type: 'done' });
    const h = { ...hooks(true, async () => Promise.reject(new Error('unused'))), transcript: () => new Failing('gpt-4o', 1000), onUsage: () => usage++ };
    await expect(answer(seg, h)).rejects.toThrow('count failed');
    expect(usage).toBe(1);
  });

  it('a request that ends (its client left) ends the answer there: nothing more written, nothing resumed, usage reported once', async () => {
    let usage = 0;
    const resumes: unknown[] = [];
    const stopped: Segment = {
      feed: {
        pump: async (sink) => {
          sink.write({ type: 'chunk', data: chunk('a', { content: 'x' }) });
          return 'stopped';
        },
      },
      body,
      deployment: 'a',
    };
    const h = { ...hooks(true, async () => Promise.reject(new Error('must not be asked'))), onResume: (r: unknown) => resumes.push(r), onUsage: () => usage++ };
    const out = await answer(stopped, h);
    expect(out.map((e) => e.type)).toEqual(['chunk']);
    expect([resumes, usage]).toEqual([[], 1]);
  });
});

function racer<T>(ms: number, value: T | Error, log: string[], name: string): Racer<T> {
  let timer: NodeJS.Timeout;
  return {
    promise: new Promise<T>((resolve, reject) => {
      timer = setTimeout(() => (value instanceof Error ? reject(value) : resolve(value)), ms);
    }),
    abort: () => {
      clearTimeout(timer);
      log.push(`abort ${name}`);
    },
    dispose: (o) => log.push(`dispose ${name} ${'value' in o ? 'value' : 'error'}`),
  };
}

describe('hedge race', () => {
  it('no hedge when the primary answers in time', async () => {
    const log: string[] = [];
    const r = await race(racer(5, 'p', log, 'p'), 50, () => racer(1, 'h', log, 'h'));
    expect(r).toEqual({ value: 'p', winner: 'primary' });
    expect(log).toEqual([]);
  });

  it('a slow primary loses to the hedge and is aborted', async () => {
    const log: string[] = [];
    const r = await race(racer(500, 'p', log, 'p'), 20, () => racer(10, 'h', log, 'h'));
    expect(r).toEqual({ value: 'h', winner: 'hedge' });
    expect(log).toEqual(['abort p']);
  });

  it('a failing hedge leaves the race to the primary; both failing throws the primary error', async () => {
    const log: string[] = [];
    const r = await race(racer(60, 'p', log, 'p'), 10, () => racer<string>(5, new Error('h'), log, 'h'));
    expect(r.winner).toBe('primary');
    expect(log).toEqual(['dispose h error']);
    const both: string[] = [];
    await expect(race(racer<string>(40, new Error('p'), both, 'p'), 10, () => racer<string>(5, new Error('h'), both, 'h'))).rejects.toThrow('p');
    expect(both).toEqual(['dispose h error']);
  });

  it('a primary failing after the hedge started: the hedge wins and the primary is disposed', async () => {
    const log: string[] = [];
    const r = await race(racer<string>(30, new Error('p'), log, 'p'), 10, () => racer(60, 'h', log, 'h'));
    expect(r).toEqual({ value: 'h', winner: 'hedge' });
    expect(log).toEqual(['dispose p error']);
  });

  it('the percentile window needs 20 samples, then hedges at the percentile', () => {
    const w = new LatencyWindow(200, 20);
    expect(hedgeDelay({ after_ms: undefined, after_percentile: 95 }, w)).toBeUndefined();
    expect(hedgeDelay({ after_ms: 300, after_percentile: 95 }, w)).toBe(300);
    for (let i = 1; i <= 100; i++) w.add(i);
    expect(w.percentile(95)).toBe(95);
    expect(hedgeDelay({ after_ms: 300, after_percentile: 50 }, w)).toBe(50);
    for (let i = 0; i < 200; i++) w.add(1000); // the ring forgets old samples
    expect(w.percentile(50)).toBe(1000);
    expect(hedgeDelay(undefined, w)).toBeUndefined();
  });
});

describe('stream accounting', () => {
  const fakeHealth = (log: string[]) =>
    ({
      recordFailure: (_now: number, kind: string) => log.push(`failure ${kind}`),
      release: () => log.push('release'),
    }) as unknown as DeploymentHealth;

  it("records the success after the first token's turn, not on its path", async () => {
    const log: string[] = [];
    const onEnd = streamAccounting(fakeHealth(log), new Cancel().signal, () => log.push('success'));
    expect(log).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['success']);
    onEnd(undefined);
    onEnd(new GatewayError('server', 'late'));
    expect(log).toEqual(['success', 'release']); // once
  });

  it('a stream that fails before that turn records its success first, then the failure, then frees its slot', () => {
    const log: string[] = [];
    const onEnd = streamAccounting(fakeHealth(log), new Cancel().signal, () => log.push('success'));
    onEnd(new GatewayError('connection', 'cut'));
    expect(log).toEqual(['success', 'failure connection', 'release']);
  });

  it("a failure the request's own deadline caused says nothing about the deployment", () => {
    const log: string[] = [];
    const deadline = new Cancel();
    deadline.abort();
    streamAccounting(fakeHealth(log), deadline.signal, () => log.push('success'))(new GatewayError('timeout', 'total'));
    expect(log).toEqual(['success', 'release']);
  });
});
