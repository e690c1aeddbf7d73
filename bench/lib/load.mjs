// The load the bench generates (in its own process): autocannon for throughput, a single keep-alive undici
// connection for added latency, and undici streams read the way an official SDK reads them (split on "\n\n").
import autocannon from 'autocannon';
import { Client, Pool } from 'undici';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuMicros, rssBytes } from './procs.mjs';
import { percentile } from './stats.mjs';

export const MODEL = 'mock-model';
const JSON_HEADERS = { 'content-type': 'application/json', authorization: 'Bearer bench' };
export const chatBody = (stream, maxTokens) =>
  JSON.stringify({
    model: MODEL,
    messages: [{ role: 'user', content: 'Say something.' }],
    ...(stream ? { stream: true } : {}),
    ...(maxTokens ? { max_tokens: maxTokens } : {}),
  });

/** Chat requests (not streamed) from `connections` keep-alive connections for `seconds`; autocannon's result. */
export function cannon(url, { connections, seconds, headers }) {
  return autocannon({
    url: `${url}/v1/chat/completions`,
    method: 'POST',
    headers: { ...JSON_HEADERS, ...headers },
    body: chatBody(false),
    connections,
    duration: seconds,
    // autocannon stops on its sampling tick: keep the tick short for sub-second runs (--quick).
    sampleInt: Math.min(1000, Math.max(50, seconds * 1000)),
  });
}

/** Requests/s, latency and CPU per request of `pid`'s process tree, `connections` at a time for `seconds`. */
export async function throughput(url, pid, { connections, seconds, headers }) {
  const cpu0 = cpuMicros(pid);
  const result = await cannon(url, { connections, seconds, headers });
  const cpu = cpuMicros(pid) - cpu0;
  const ok = result['2xx'];
  return {
    rps: ok / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    cpuUsPerReq: ok > 0 ? cpu / ok : null,
    requests: ok,
    failures: result.non2xx + result.errors + result.timeouts,
  };
}

/**
 * One keep-alive connection per target, requests one at a time, targets interleaved in rounds so that drift
 * (timers, CPU frequency, GC) hits all of them alike. Returns µs samples per target name.
 */
export async function serialLatency(targets, { seconds, round = 50 }) {
  const clients = targets.map((t) => new Client(t.url, { pipelining: 1, keepAliveTimeout: 30_000 }));
  const samples = targets.map(() => []);
  const body = chatBody(false);
  let failures = 0;
  const deadline = performance.now() + seconds * 1000;
  try {
    do {
      for (let t = 0; t < targets.length; t++) {
        for (let i = 0; i < round; i++) {
          const t0 = process.hrtime.bigint();
          const res = await clients[t].request({ path: '/v1/chat/completions', method: 'POST', headers: { ...JSON_HEADERS, ...targets[t].headers }, body });
          await res.body.text();
          const us = Number(process.hrtime.bigint() - t0) / 1000;
          if (res.statusCode === 200) samples[t].push(us);
          else failures++;
        }
      }
    } while (performance.now() < deadline);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  return { samples: Object.fromEntries(targets.map((t, i) => [t.name, samples[i]])), failures };
}

/**
 * Reads one SSE chat stream like an SDK would. Resolves with the time to the first content token, the gaps
 * between content tokens (ms) and how many tokens came; never rejects.
 */
export async function readStream(dispatcher, signal, maxTokens, headers) {
  const t0 = performance.now();
  const times = [];
  try {
    const res = await dispatcher.request({
      path: '/v1/chat/completions',
      method: 'POST',
      headers: { ...JSON_HEADERS, ...headers },
      body: chatBody(true, maxTokens),
      signal,
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return { ok: false, error: `status ${res.statusCode}`, tokens: 0 };
    }
    res.body.setEncoding('utf8');
    let buffer = '';
    let done = false;
    for await (const text of res.body) {
      const now = performance.now();
      buffer += text;
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
        if (!event.startsWith('data: ')) continue; // comments (heartbeats) and blank keep-alives
        const data = event.slice(6);
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        if (JSON.parse(data).choices?.[0]?.delta?.content) times.push(now);
      }
    }
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    return { ok: done, ttftMs: times.length > 0 ? times[0] - t0 : null, gaps, tokens: times.length, error: done ? undefined : 'no [DONE]' };
  } catch (err) {
    return { ok: false, error: err?.code ?? err?.message ?? String(err), tokens: times.length };
  }
}

/**
 * One short stream at a time per target (`maxTokens` deltas: the mock cuts its reply there), targets interleaved
 * stream by stream: time to first token without other streams' chunks competing for the CPU. ms samples per target.
 */
export async function serialFirstToken(targets, { seconds, maxTokens }) {
  const clients = targets.map((t) => new Client(t.url, { pipelining: 1, keepAliveTimeout: 30_000 }));
  const samples = targets.map(() => []);
  let failures = 0;
  const deadline = performance.now() + seconds * 1000;
  try {
    do {
      for (let t = 0; t < targets.length; t++) {
        const r = await readStream(clients[t], undefined, maxTokens, targets[t].headers);
        if (r.ok && r.tokens === maxTokens && r.ttftMs !== null) samples[t].push(r.ttftMs);
        else failures++;
      }
    } while (performance.now() < deadline);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  return { samples: Object.fromEntries(targets.map((t, i) => [t.name, samples[i]])), failures };
}

/**
 * `concurrency` streams at a time, one after another, for `seconds`: TTFT and inter-token gap distributions.
 * Worker i starts i/concurrency of `spreadMs` late. With `spreadMs` about one stream's length, stream starts (and
 * so their chunks) are as spread as independent users' are; with a short spread every worker starts its streams
 * in the same few milliseconds, wave after wave, which no real load does and which makes each first token wait
 * for 31 other requests being set up. With `skipRamp`, first tokens of streams started before the last worker
 * started (the ramp, when fewer than `concurrency` streams ran) are not counted.
 */
export async function streamLatency(url, { concurrency, seconds, expectTokens, spreadMs = 0, skipRamp = false, headers }) {
  const pool = new Pool(url, { connections: concurrency, pipelining: 1 });
  const ttft = [];
  const gaps = [];
  let failures = 0;
  let streams = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const steadyFrom = skipRamp ? t0 + ((concurrency - 1) * spreadMs) / concurrency : t0;
  const worker = async (i) => {
    await sleep((i * spreadMs) / concurrency);
    do {
      const startedAt = performance.now();
      const r = await readStream(pool, undefined, undefined, headers);
      streams++;
      if (!r.ok || r.tokens !== expectTokens) failures++;
      if (r.ttftMs !== null && r.ttftMs !== undefined && startedAt >= steadyFrom) ttft.push(r.ttftMs);
      if (r.gaps) gaps.push(...r.gaps);
    } while (performance.now() < deadline);
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  await pool.close();
  return { streams, failures, ttft, gaps };
}

/** Percentiles of one or more `streamLatency` results pooled together (the sample arrays are left out). */
export function summarizeStreams(results) {
  const ttft = results.flatMap((r) => r.ttft);
  const gaps = results.flatMap((r) => r.gaps);
  return {
    streams: results.reduce((n, r) => n + r.streams, 0),
    failures: results.reduce((n, r) => n + r.failures, 0),
    ttftP50Ms: percentile(ttft, 50),
    ttftP99Ms: percentile(ttft, 99),
    gapP50Ms: percentile(gaps, 50),
    gapP99Ms: percentile(gaps, 99),
  };
}

/**
 * Opens `count` streams through `url` (the mock answers them slowly), waits until every one has its first
 * token, lets the process settle for `settleMs` (the ramp's garbage is not the steady state), samples the RSS
 * of `pid`'s process tree for `sampleMs` while they are all in flight (peak), then aborts them all.
 */
export async function holdStreams(url, pid, { count, sampleMs, settleMs = 0, batch = 100, timeoutMs = 60_000, headers }) {
  const pool = new Pool(url, { connections: count + 16, pipelining: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const ac = new AbortController();
  setMaxListeners(count + 16, ac.signal); // one listener per stream, on purpose
  const rssIdle = rssBytes(pid);
  const firstTokens = [];
  let open = 0;
  let ended = 0;
  let failed = 0;
  const one = async () => {
    try {
      const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body: chatBody(true), signal: ac.signal });
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
      open++;
      await new Promise((resolve, reject) => {
        res.body.once('data', resolve); // headers come with the first token (commit on first token)
        res.body.once('error', reject);
        res.body.once('end', resolve);
      });
      res.body.on('data', () => {}).on('error', () => {}).on('end', () => ended++);
    } catch (err) {
      if (!ac.signal.aborted) failed++;
      if (failed === 1 && !ac.signal.aborted) process.stderr.write(`hold: a stream failed: ${err?.code ?? err?.message}\n`);
    }
  };
  const started = performance.now();
  for (let i = 0; i < count; i += batch) {
    for (let j = i; j < Math.min(count, i + batch); j++) firstTokens.push(one());
    // A burst of thousands of SYNs overflows the servers' accept queues into 1 s retransmits: let each batch
    // connect before the next (bounded wait, so a slow server only slows the ramp).
    const launched = Math.min(count, i + batch);
    for (let waited = 0; pool.stats.connected < launched && waited < 500; waited += 10) await sleep(10);
  }
  const guard = setTimeout(() => ac.abort(), timeoutMs);
  await Promise.all(firstTokens);
  const rampMs = performance.now() - started;
  await sleep(settleMs);
  const inFlight = open - ended;
  let rssPeak = 0;
  const samples = Math.max(1, Math.round(sampleMs / 100));
  for (let i = 0; i < samples && !ac.signal.aborted; i++) {
    rssPeak = Math.max(rssPeak, rssBytes(pid));
    await sleep(100);
  }
  clearTimeout(guard);
  ac.abort();
  await pool.destroy();
  return { count, inFlight, failed, rampMs, rssIdle, rssPeak };
}
