#!/usr/bin/env node
// npm run demo: builds if needed, starts two mock providers (one flaky) and `lifeline serve` on
// examples/demo.yaml, sends a burst of requests with the official OpenAI SDK (some streaming),
// and prints a summary. No keys, no network: everything runs on 127.0.0.1.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const REQUESTS = Number(process.env.DEMO_REQUESTS ?? 60);
const CONCURRENCY = 6;

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function buildIfNeeded() {
  const cli = join(root, 'dist', 'cli.js');
  if (existsSync(cli) && statSync(cli).mtimeMs >= newestMtime(join(root, 'src'))) return;
  console.log('building…');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const res = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (res.status !== 0) process.exit(res.status ?? 1);
}

function startGateway(env) {
  const child = spawn(process.execPath, [join(root, 'dist', 'cli.js'), 'serve', '--config', join(root, 'examples', 'demo.yaml'), '--port', '0'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve({ child, url: m[1] });
    });
    child.once('exit', (code) => reject(new Error(`lifeline serve exited with ${code}:\n${err}`)));
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  buildIfNeeded();
  const { startMock } = await import(join(root, 'dist', 'index.js'));
  const { default: OpenAI } = await import('openai');
  const steady = await startMock({ seed: 7, plan: { default: { chunk_gap_ms: 5 } } });
  const flaky = await startMock({
    seed: 42,
    plan: {
      default: { chunk_gap_ms: 5 },
      failure_rate: 0.25,
      mix: [{ status: 500 }, { status: 503 }, { status: 429, retry_after_ms: 200 }, { reset: true }],
    },
  });
  const { child, url } = await startGateway({ DEMO_STEADY_URL: steady.url, DEMO_FLAKY_URL: flaky.url });
  console.log(`gateway ${url}  ·  steady mock ${steady.url}  ·  flaky mock ${flaky.url} (25% faults)\n`);

  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'demo', maxRetries: 0 });
  const results = [];
  let next = 0;
  async function worker() {
    while (next < REQUESTS) {
      const i = next++;
      const model = i % 4 === 3 ? 'steady-mini' : 'gpt-4o-mini';
      const stream = i % 3 === 0;
      const t0 = performance.now();
      try {
        const messages = [{ role: 'user', content: `Request ${i}: say something.` }];
        if (stream) {
          const s = await client.chat.completions.create({ model, messages, stream: true });
          let text = '';
          for await (const chunk of s) text += chunk.choices[0]?.delta?.content ?? '';
          if (!text) throw new Error('empty stream');
        } else {
          const r = await client.chat.completions.create({ model, messages });
          if (!r.choices[0]?.message?.content) throw new Error('empty answer');
        }
        results.push({ model, stream, ok: true, ms: performance.now() - t0 });
      } catch (err) {
        results.push({ model, stream, ok: false, ms: performance.now() - t0, error: err?.status ?? err?.message });
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));

  const attempts = steady.stats().requests + flaky.stats().requests;
  const rows = [];
  for (const [label, filter] of [
    ['all', () => true],
    ['gpt-4o-mini (flaky)', (r) => r.model === 'gpt-4o-mini'],
    ['steady-mini', (r) => r.model === 'steady-mini'],
    ['streaming', (r) => r.stream],
  ]) {
    const subset = results.filter(filter);
    const ms = subset.map((r) => r.ms).sort((a, b) => a - b);
    rows.push({
      requests: label,
      sent: subset.length,
      ok: subset.filter((r) => r.ok).length,
      failed: subset.filter((r) => !r.ok).length,
      'p50 ms': Math.round(percentile(ms, 50)),
      'p99 ms': Math.round(percentile(ms, 99)),
    });
  }
  console.table(rows);
  const failures = results.filter((r) => !r.ok);
  console.log(`upstream attempts: ${attempts} (steady ${steady.stats().requests}, flaky ${flaky.stats().requests}; faults injected: ${flaky.stats().requests - (flaky.stats().byOutcome.ok ?? 0)})`);
  if (failures.length > 0) {
    const kinds = {};
    for (const f of failures) kinds[f.error] = (kinds[f.error] ?? 0) + 1;
    console.log(`failed requests by status: ${JSON.stringify(kinds)}`);
  }

  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const code = await exited;
  await Promise.all([steady.close(), flaky.close()]);
  const okCount = results.length - failures.length;
  // The demo fails only when the gateway itself is broken: it must answer, and exit cleanly.
  if (okCount === 0 || code !== 0) {
    console.error(`demo FAILED: ok=${okCount}, gateway exit code ${code}`);
    process.exit(1);
  }
  console.log(`\ndemo ok: ${okCount}/${results.length} answered; the gateway drained and exited with code ${code}.`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
