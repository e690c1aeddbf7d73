/**
 * A scripted `Upstream` (src/types.ts) for the decision-loop tests: no sockets. Each deployment has a script, one
 * step per call; the last step repeats once the script runs out (a deployment with no script answers 200). Every
 * call is recorded with the deployment it went to (`provider/model`, as the gateway names deployments).
 */
import { GatewayError } from '../../src/errors.js';
import type { Headers, SendOptions, Upstream, UpstreamResponse } from '../../src/types.js';

export type Step =
  /** An HTTP answer. `body` defaults to a chat completion (or its stream) for a 2xx, an OpenAI error body otherwise. */
  | { status: number; headers?: Headers; body?: string }
  /** What transport/ throws when the connection fails or a timeout fires. */
  | { fail: 'connection' | 'timeout' }
  /** No answer until the request's signal aborts (its deadline, or its client): then its reason, as transport/ does. */
  | { hang: true };

export const OK: Step = { status: 200 };

/** A 200 chat completion whose content names the deployment, so a test can see who answered. */
export function completion(id: string): string {
  return JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: `from ${id}` }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  });
}

/** A streamed answer of one token, as an OpenAI-compatible upstream sends it. */
export function sse(id: string): string {
  const chunk = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  return `${chunk({ role: 'assistant', content: `from ${id}` }, null)}${chunk({}, 'stop')}data: [DONE]\n\n`;
}

export class FakeUpstream implements Upstream {
  /** The deployment of each call, in order. */
  readonly calls: string[] = [];
  private readonly used = new Map<string, number>();

  constructor(private readonly scripts: Readonly<Record<string, readonly Step[]>> = {}) {}

  /** How many calls went to `id`. */
  count(id: string): number {
    return this.calls.filter((c) => c === id).length;
  }

  send(opts: SendOptions): Promise<UpstreamResponse> {
    const sent = JSON.parse(opts.request.body ?? '{}') as { model?: string; stream?: boolean };
    const id = `${opts.provider.name}/${sent.model}`;
    this.calls.push(id);
    const n = this.used.get(id) ?? 0;
    this.used.set(id, n + 1);
    const script = this.scripts[id] ?? [OK];
    const step = script[Math.min(n, script.length - 1)] ?? OK;
    if ('fail' in step) return Promise.reject(transportError(step.fail, opts.label));
    if ('hang' in step) return hang(opts);
    const ok = sent.stream ? sse(id) : completion(id);
    const body = step.body ?? (step.status < 300 ? ok : errorBody(step.status));
    return Promise.resolve(response(step.status, step.headers ?? {}, body));
  }
}

function transportError(kind: 'connection' | 'timeout', label: string): GatewayError {
  return kind === 'timeout'
    ? new GatewayError('timeout', `${label} sent no response headers in time`, { code: 'first_byte_timeout' })
    : new GatewayError('connection', `${label}: connection failed (ECONNRESET)`, { code: 'upstream_connection' });
}

function hang(opts: SendOptions): Promise<UpstreamResponse> {
  return new Promise((_, reject) => {
    const { signal } = opts;
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

function errorBody(status: number): string {
  return JSON.stringify({ error: { message: `scripted ${status}`, type: 'scripted', code: null } });
}

function response(status: number, headers: Headers, text: string): UpstreamResponse {
  const bytes = Buffer.from(text);
  return {
    status,
    headers,
    body: {
      async *[Symbol.asyncIterator]() {
        yield bytes;
      },
    },
    text: () => Promise.resolve(text),
    discard: () => undefined,
  };
}
