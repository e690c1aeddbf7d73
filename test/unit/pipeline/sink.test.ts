import { describe, expect, it } from 'vitest';
import { Cancel } from '../../../src/cancel.js';
import { resolveConfig } from '../../../src/config/index.js';
import { GatewayError } from '../../../src/errors.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { buildRoutes } from '../../../src/routing/routes.js';
import type { SendOptions, Upstream, UpstreamResponse } from '../../../src/types.js';
import { RecordingSink } from '../../support/recording-sink.js';
import { eventually } from '../../support/timing.js';

/**
 * The pipeline's side of the stream sink (pipeline/sink.ts), through a real Pipeline over upstreams whose bodies
 * the test feeds by hand: what the sink hears, in which order, and when.
 */

const chunk = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const ROLE = chunk({ role: 'assistant', content: '' });
const token = (text: string) => chunk({ content: text });
const END = `${chunk({}, 'stop')}data: [DONE]\n\n`;

/** A streamed body the test writes to; it ends with the request's signal, as transport/ ends a body. */
class Body implements AsyncIterable<Buffer> {
  private readonly queue: Buffer[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  aborted = false;

  constructor(private readonly signal: SendOptions['signal']) {
    signal.addEventListener('abort', () => {
      this.aborted = true;
      this.wake?.();
    });
  }

  push(text: string): void {
    this.queue.push(Buffer.from(text));
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      const next = this.queue.shift();
      if (next) yield next;
      else if (this.aborted) throw this.signal.reason ?? new GatewayError('connection', 'aborted');
      else if (this.ended) return;
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

/** Answers each call 200 with a Body the test writes, or with the status a deployment is scripted to fail with. */
class HandFedUpstream implements Upstream {
  readonly bodies = new Map<string, Body>();
  constructor(private readonly statuses: Record<string, number> = {}) {}

  async send(opts: SendOptions): Promise<UpstreamResponse> {
    const id = `${opts.provider.name}/${(JSON.parse(opts.request.body ?? '{}') as { model: string }).model}`;
    const status = this.statuses[id] ?? 200;
    const body = new Body(opts.signal);
    if (status === 200) this.bodies.set(id, body);
    else {
      body.push(JSON.stringify({ error: { message: `scripted ${status}`, type: 'scripted', code: null } }));
      body.end();
    }
    const text = async () => {
      let all = '';
      for await (const b of body) all += b.toString();
      return all;
    };
    return { status, headers: {}, body, text, discard: () => body.end() };
  }

  async body(id: string): Promise<Body> {
    await eventually(() => this.bodies.has(id));
    const body = this.bodies.get(id);
    if (!body) throw new Error(`${id} was never called`);
    return body;
  }
}

function pipeline(upstream: Upstream, model: Record<string, unknown>) {
  const provider = (name: string) => ({ type: 'openai', base_url: `http://${name}.test/v1`, api_key: `key-${name}` });
  const config = resolveConfig(
    {
      providers: { east: provider('east'), west: provider('west') },
      retry: { max_attempts: 2, base_delay_ms: 1, max_delay_ms: 2 },
      streaming: { resume: false },
      models: { pair: { strategy: 'priority', targets: [{ provider: 'east', model: 'm', priority: 1 }, { provider: 'west', model: 'm', priority: 2 }], ...model } },
    },
    {},
  );
  const routes = buildRoutes(config);
  const p = new Pipeline(config, upstream, routes, { rand: () => 0.5 });
  return (sink: RecordingSink) =>
    p.run({
      op: 'chat',
      route: routes.get('pair')!,
      body: { model: 'pair', messages: [{ role: 'user', content: 'hi' }], stream: true },
      stream: true,
      requestId: 'r1',
      signal: new Cancel().signal,
      sink,
    });
}

const settle = () => new Promise((r) => setTimeout(r, 20));
/** Waits until the sink's log has `n` entries (a busy machine may take its time). */
const logged = (sink: RecordingSink, n: number) => eventually(() => sink.log.length >= n);

describe('the stream sink, from the pipeline', () => {
  it('gets the head in the turn the first token is read, before anything more is read; then the rest, each event once', async () => {
    const upstream = new HandFedUpstream();
    const sink = new RecordingSink();
    let over = false;
    const run = pipeline(upstream, {})(sink).finally(() => (over = true));
    const body = await upstream.body('east/m');
    await settle();
    expect(sink.log).toEqual(['accepted east/m']);
    body.push(ROLE + token('Hel'));
    await logged(sink, 4);
    await settle();
    expect(sink.log).toEqual(['accepted east/m', 'commit east/m', 'chunk', 'chunk!']);
    expect(over).toBe(false); // the answer is not over: its rest is still to come
    body.push(token('lo') + END);
    const result = await run;
    // lo, the finish, the usage the upstream did not report (counted), done
    expect(sink.log).toEqual(['accepted east/m', 'commit east/m', 'chunk', 'chunk!', 'chunk', 'chunk', 'chunk', 'done']);
    expect(sink.text()).toBe('Hello');
    expect(result).toMatchObject({ type: 'stream', meta: { deployment: 'east/m' } });
  });

  it('a failover before the first token: one commit, on the deployment that answers, with the attempts so far', async () => {
    const upstream = new HandFedUpstream({ 'east/m': 503 });
    const sink = new RecordingSink();
    const run = pipeline(upstream, {})(sink);
    (await upstream.body('west/m')).push(ROLE + token('hi') + END);
    await run;
    expect(sink.log).toEqual(['accepted west/m', 'commit west/m', 'chunk', 'chunk!', 'chunk', 'chunk', 'done']);
    expect(sink.commits).toEqual([{ deployment: 'west/m', attempts: 2 }]);
  });

  it('hedged: the first token of the hedge commits at once, once, and the slow primary is cut', async () => {
    const upstream = new HandFedUpstream();
    const sink = new RecordingSink();
    const run = pipeline(upstream, { hedge: { after_ms: 30 } })(sink);
    const primary = await upstream.body('east/m');
    primary.push(ROLE); // accepted, but no token
    const hedge = await upstream.body('west/m');
    hedge.push(ROLE + token('fast'));
    await logged(sink, 5);
    expect(sink.log).toEqual(['accepted east/m', 'accepted west/m', 'commit west/m', 'chunk', 'chunk!']);
    expect(primary.aborted).toBe(true);
    primary.push(token('late')); // never read
    hedge.push(END);
    const result = await run;
    expect(sink.text()).toBe('fast');
    expect(sink.commits).toHaveLength(1);
    expect(result.meta.attempts.map((a) => [a.deployment, a.kind])).toEqual([
      ['east/m', 'hedge_lost'],
      ['west/m', undefined],
    ]);
  });
});
