// "No 500 answer can be produced by any client input" (issue 18): a few thousand seeded requests over every
// route and method — wrong types for every known field, deep nesting, odd numbers and strings, broken JSON,
// repeated keys, invalid UTF-8, content codings real and garbage, bad percent-encodings, long paths, odd
// headers — sent over real sockets to the gateway in front of a healthy mock that speaks every provider's
// dialect. Any 5xx is then the gateway's own, and a bug. Replay a failure with FUZZ_SEED=<seed>.
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { type MockServer, startMock } from '../../src/mock/index.js';
import { type RunningServer, startServer } from '../../src/server/serve.js';
import { BODY_ROUTES, type FuzzRequest, fuzzRequest, Gen } from '../support/fuzz-inputs.js';
import { memoryLogger, PROVIDER_KEY } from '../support/helpers.js';

const SEED = Number(process.env.FUZZ_SEED ?? 18);
const COUNT = Number(process.env.FUZZ_COUNT ?? 3000);
const CONCURRENCY = 8;

let mock: MockServer;
let server: RunningServer;
let lines: string[];
beforeAll(async () => {
  mock = await startMock();
  const config = resolveConfig({
    server: { port: 0, max_body_bytes: 1024 * 1024 },
    // Few, quick retries; no deployment is ever taken out of rotation by what the fuzz provokes.
    retry: { max_attempts: 2, base_delay_ms: 1, max_delay_ms: 5 },
    health: { failure_threshold: 1_000_000, min_requests: 1_000_000 },
    providers: {
      upstream: { type: 'openai', api_key: PROVIDER_KEY, base_url: mock.url },
      anthropic: { type: 'anthropic', api_key: PROVIDER_KEY, base_url: mock.url },
      google: { type: 'gemini', api_key: PROVIDER_KEY, base_url: `${mock.origin}/v1beta` },
      aws: { type: 'bedrock', region: 'us-east-1', access_key_id: 'AKIDEXAMPLE', secret_access_key: PROVIDER_KEY, base_url: mock.origin },
    },
    models: {
      'gpt-test': { targets: [{ provider: 'upstream', model: 'mock-gpt' }] },
      // A small window: prompts are counted (tools, parts, images) and trimmed middle-out.
      tiny: { targets: [{ provider: 'upstream', model: 'gpt-4o', context_window: 400, max_output_tokens: 100 }], transforms: ['middle-out'] },
      claude: { targets: [{ provider: 'anthropic', model: 'claude-mock-4' }] },
      gem: { targets: [{ provider: 'google', model: 'gemini-2.0-flash' }] },
      'gem-embed': { targets: [{ provider: 'google', model: 'text-embedding-004' }] },
      bed: { targets: [{ provider: 'aws', model: 'anthropic.claude-3-5-sonnet-20240620-v1:0' }] },
    },
  });
  const logged = memoryLogger();
  lines = logged.lines;
  server = await startServer(config, { logger: logged.logger });
});
afterAll(async () => {
  await server?.shutdown();
  await mock?.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function send(r: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(server.url);
    // Framing set explicitly: node's client sends a GET's body with neither a length nor chunks otherwise.
    const framing = r.body === undefined ? {} : r.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(r.body.length) };
    const headers = { ...r.headers, ...framing };
    const req = request({ host: url.hostname, port: url.port, method: r.method, path: r.path, headers, agent, timeout: 15_000 }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', reject);
    if (r.chunked && r.body) {
      req.write(r.body.subarray(0, r.body.length >> 1));
      req.end(r.body.subarray(r.body.length >> 1));
    } else req.end(r.body);
  });
}

const STACK_TEXT = ['    at ', '.ts:', '.js:'];

/** What is wrong with the gateway's answer to `r`, or undefined when it is fine. */
function verdict(r: FuzzRequest, a: Answer): string | undefined {
  const asked = `${r.path} ${JSON.stringify(r.headers)} ${r.body?.toString('latin1') ?? ''}`;
  const leaked = STACK_TEXT.find((s) => a.body.includes(s) && !asked.includes(s));
  if (leaked) return `stack trace text ${JSON.stringify(leaked)} in the body`;
  if (a.body.includes('Internal gateway error')) return 'an internal error (in a body or a stream event)';
  if (a.status >= 500 && !timeoutAsked(r, a)) return `status ${a.status}`;
  if (a.status < 400 || r.method === 'HEAD') return undefined;
  return shapeProblem(r.path.split('?')[0] === '/v1/messages', a.body);
}

/** A client that asks for a deadline of a few milliseconds may well get the 504 it asked for. */
function timeoutAsked(r: FuzzRequest, a: Answer): boolean {
  const t = Number(r.headers['x-lifeline-timeout-ms']);
  return a.status === 504 && Number.isFinite(t) && t > 0 && t < 1000;
}

function shapeProblem(anthropic: boolean, text: string): string | undefined {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return 'an error body that is not JSON';
  }
  const error = json.error as Record<string, unknown> | undefined;
  if (typeof error?.message !== 'string' || typeof error.type !== 'string') return 'an error without a message and a type';
  if (anthropic) return json.type === 'error' && 'request_id' in json ? undefined : 'an error not in Anthropic shape';
  return Object.keys(error).sort().join() === 'code,message,param,type' ? undefined : 'an error not in OpenAI shape';
}

/** `POST /v1/chat/completions 400 invalid_request`: what kinds of answer the run produced, to see what it reached. */
function outcome(r: FuzzRequest, a: Answer): string {
  const code = (/"code":"([^"]*)"/.exec(a.body) ?? /"type":"([a-z_]+_error)"/.exec(a.body))?.[1] ?? '';
  return `${r.method} ${r.path.split('?')[0]?.slice(0, 40)} ${a.status} ${code}`;
}

describe('fuzz: no client input gets a 500', () => {
  it(`${COUNT} seeded requests over every route (seed ${SEED}) get 2xx/4xx answers in the route's shape`, async () => {
    const g = new Gen(SEED);
    const cases = Array.from({ length: COUNT }, () => fuzzRequest(g));
    const failures: string[] = [];
    const outcomes = new Map<string, number>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < cases.length) {
        const i = next++;
        const r = cases[i]!;
        let problem: string | undefined;
        try {
          const a = await send(r);
          const key = outcome(r, a);
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
          problem = verdict(r, a);
          if (problem) problem += ` — answered ${a.status} ${a.body.slice(0, 300)}`;
        } catch (err) {
          problem = `no answer: ${(err as Error).message}`;
        }
        if (problem) failures.push(`#${i} ${r.kind}: ${r.method} ${r.path.slice(0, 120)} ${r.body?.toString('utf8').slice(0, 300) ?? ''}\n    ${problem}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    if (process.env.FUZZ_VERBOSE) console.log([...outcomes].sort().map(([k, n]) => `${n}\t${k}`).join('\n'));

    expect(`${failures.length} failures\n${failures.slice(0, 15).join('\n')}`).toBe('0 failures\n');
    expect(lines.filter((l) => l.includes('"msg":"internal error"'))).toEqual([]);
    // The run reached every route's upstream (well-formed cases are answered), not only the gateway's validation.
    for (const route of BODY_ROUTES) expect(outcomes.get(`POST ${route} 200 `) ?? 0, route).toBeGreaterThan(COUNT / 200);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  }, 60_000);
});
