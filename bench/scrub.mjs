// The cost of keeping secrets out of answers and logs (src/secrets.ts), per call, on this machine:
//   npm run build && node bench/scrub.mjs
// scrubExact runs on every success chunk and JSON body, with the deployment's provider's secrets (one key for most
// providers; AWS credentials for bedrock); scrubUntrusted on upstream error fields and on request log lines that
// carry an error. Each figure is the best and the median of 7 rounds.
import { scrubbingDecoder } from '../dist/pipeline/scrubbing-decoder.js';
import { Secrets } from '../dist/secrets.js';

let seed = 42;
const random = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const token = (n, alphabet = ALNUM) => Array.from({ length: n }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');

const openaiKey = `sk-proj-${token(156)}`; // the length of today's OpenAI project keys
const keys = [openaiKey, `sk-ant-api03-${token(95)}`, token(40, `${ALNUM}/+`), `AKIA${token(16, ALNUM.slice(0, 26) + ALNUM.slice(52))}`, `AIza${token(35)}`];
const one = new Secrets([openaiKey]);
const five = new Secrets(keys);

const words = 'the quick brown fox jumps over a lazy dog while the gateway relays every token it reads'.split(' ');
const chunks = words.map(
  (w) =>
    `{"id":"chatcmpl-AbC123xyz","object":"chat.completion.chunk","created":1733000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_abc123","choices":[{"index":0,"delta":{"content":" ${w}"},"logprobs":null,"finish_reason":null}]}`,
);
const frames = chunks.map((data) => ({ data }));
const line = `{"level":30,"time":"2026-01-01T00:00:00.000Z","requestId":"5f0c3d2e-9a8b-4c7d-8e6f-1a2b3c4d5e6f","method":"POST","path":"/v1/chat/completions","model":"gpt-4o","status":502,"ms":812.4,"deployment":"openai-east/gpt-4o","attempts":[{"deployment":"openai-east/gpt-4o","ms":800,"status":500,"upstreamRequestId":"req_0123456789abcdef0123456789abcdef","kind":"server"}],"error":{"kind":"server","code":"server_error","message":"Upstream openai-east/gpt-4o answered 500: The server had an error while processing your request. Sorry about that!"},"msg":"request"}\n`;
const message = `Incorrect API key provided: ${openaiKey.slice(0, 30)}. You can find your API key at https://platform.openai.com/account/api-keys.`;
const embedding = JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: Array.from({ length: 3072 }, () => random() * 2 - 1) }] });

function bench(name, fn, n) {
  const rounds = [];
  let sink = 0;
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += fn(i).length;
    rounds.push(Number(process.hrtime.bigint() - t0) / n);
  }
  rounds.sort((a, b) => a - b);
  console.log(`${name.padEnd(60)} best ${rounds[0].toFixed(1).padStart(8)} ns   median ${rounds[3].toFixed(1).padStart(8)} ns`);
  return sink;
}

const bare = { decode: (f) => [{ type: 'chunk', data: f.data }] };
const decoders = [scrubbingDecoder(bare, one), scrubbingDecoder(bare, five)];
const N = 1_000_000;
const at = (i) => i % chunks.length;
bench('scrubExact, chat chunk (~250 chars), 1 secret', (i) => one.scrubExact(chunks[at(i)]), N);
bench('scrubExact, chat chunk (~250 chars), 5 secrets', (i) => five.scrubExact(chunks[at(i)]), N);
bench('a decoder returning the chunk (baseline for the next two)', (i) => bare.decode(frames[at(i)]), N);
bench('scrubbingDecoder around it, 1 secret', (i) => decoders[0].decode(frames[at(i)]), N);
bench('scrubbingDecoder around it, 5 secrets', (i) => decoders[1].decode(frames[at(i)]), N);
bench('scrubExact, request log line (~600 chars), 1 secret', () => one.scrubExact(line), N);
bench('scrubExact, request log line (~600 chars), 5 secrets', () => five.scrubExact(line), N);
bench('scrubUntrusted, log line with an error (~600 chars), 1 secret', () => one.scrubUntrusted(line), N / 10);
bench('scrubUntrusted, log line with an error (~600 chars), 5 secrets', () => five.scrubUntrusted(line), N / 10);
bench('scrubUntrusted, upstream message with a cut key, 5 secrets', () => five.scrubUntrusted(message), N / 10);
bench(`scrubExact, embeddings body (${Math.round(embedding.length / 1024)} KB), 1 secret`, () => one.scrubExact(embedding), 2000);
bench(`scrubExact, embeddings body (${Math.round(embedding.length / 1024)} KB), 5 secrets`, () => five.scrubExact(embedding), 2000);
