#!/usr/bin/env node
// npm run bench: the mock, bench/floor.mjs and `lifeline serve` (shipped defaults, logs on) each in its own
// process; the same load against all three in one run; a table on stdout and bench/results.json.
// With @portkey-ai/gateway installed (a devDependency), Portkey's gateway gets the same load in a fourth column.
// Flags: --quick (≈ seconds, for the smoke test) --duration S --soak [--soak-minutes N] --out FILE --json-only
//        --streams 1000,5000 --cpu-prof DIR (profile the gateway; summarise with bench/profile-summary.mjs)
//        --skip-portkey
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { request } from 'undici';
import { cannon, holdStreams, serialFirstToken, serialLatency, streamLatency, summarizeStreams, throughput } from './lib/load.mjs';
import { CLK_TCK, cpuMicros, killAll, openFilesLimit, rssBytes, startChild, stopChild } from './lib/procs.mjs';
import { LISTENING, startMock, WORDS, writeBenchConfig } from './lib/setup.mjs';
import { machine, percentile, renderTable, row, rowsAsJson } from './lib/stats.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    soak: { type: 'boolean', default: false },
    'soak-minutes': { type: 'string', default: '10' },
    duration: { type: 'string' },
    out: { type: 'string', default: join(root, 'bench', 'results.json') },
    'json-only': { type: 'boolean', default: false },
    streams: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'skip-portkey': { type: 'boolean', default: false },
  },
});

const quick = flags.quick;
/** Deltas per stream in the one-at-a-time phase: enough for a first token, short enough for many samples. */
const SOLO_TOKENS = 1;
const settings = {
  connections: 32,
  warmupSeconds: quick ? 0.1 : 2,
  seconds: Number(flags.duration ?? (quick ? 0.2 : 10)),
  latencySeconds: quick ? 0.1 : 6,
  streamGapMs: quick ? 2 : 20,
  /** Stream starts staggered over about one stream's length, as independent users' are (see streamLatency). */
  streamSpreadMs: quick ? 2 : 20 * WORDS,
  streamConcurrency: quick ? 4 : 32,
  throughputRounds: quick ? 1 : 3,
  streamSeconds: quick ? 0.1 : 18,
  soloSeconds: quick ? 0.1 : 18,
  streamRounds: quick ? 1 : 3,
  holdGapMs: quick ? 200 : 2000,
  holdCounts: (flags.streams ?? (quick ? '20' : '1000,5000')).split(',').map(Number),
  holdSampleMs: quick ? 100 : 2000,
  holdSettleMs: quick ? 0 : 3000,
  soakMinutes: flags.soak ? Number(flags['soak-minutes']) : 0,
};
const t0 = performance.now();
const log = (line) => {
  const at = ((performance.now() - t0) / 1000).toFixed(1).padStart(5);
  if (!flags['json-only']) process.stderr.write(`[${at} s] ${line}\n`);
};

// Every child dies with the bench, however the bench ends.
process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killAll();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
}

async function setMockPlan(mock, plan) {
  const res = await request(`${mock.url}/_mock/plan`, { method: 'PUT', body: JSON.stringify(plan), headers: { 'content-type': 'application/json' } });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`mock refused the plan: ${text}`);
}

const CLI = join(root, 'dist', 'cli.js');

/** `lifeline serve` on the bench config; with --cpu-prof, V8 writes a profile into that directory on exit. */
function startGateway(config) {
  const nodeArgs = flags['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', resolve(flags['cpu-prof'])] : [];
  return startChild('lifeline', [CLI, 'serve', '--config', config], { pattern: LISTENING, nodeArgs });
}

async function startAll(dir) {
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build` first (npm run bench does)');
  const mock = await startMock(CLI, settings.streamGapMs);
  const config = writeBenchConfig(dir, mock.url, 'bench/run.mjs');
  const [floor, gateway] = await Promise.all([
    startChild('floor', [join(root, 'bench', 'floor.mjs'), mock.url], { pattern: LISTENING }),
    startGateway(config),
  ]);
  return { mock, floor, gateway, config };
}

const PORTKEY = join(root, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');

/**
 * Portkey's open-source gateway (`npx @portkey-ai/gateway`), pointed at the mock per request through its
 * headers: the OpenAI provider with a custom host. Its server listens on every interface; the preload keeps it on
 * loopback. Undefined when the package is not installed.
 */
async function startPortkey(mock) {
  if (flags['skip-portkey'] || !existsSync(PORTKEY)) return undefined;
  const port = await freePort();
  const proc = await startChild('portkey', [PORTKEY, `--port=${port}`, '--headless'], {
    pattern: /(Ready) for connections/,
    readyOn: 'stdout',
    nodeArgs: ['--import', join(root, 'bench', 'lib', 'loopback-only.mjs')],
    env: { NODE_ENV: 'production' },
  });
  return { ...proc, url: `http://127.0.0.1:${port}`, headers: { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${mock.url}/v1` } };
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** Short bursts at each target first, so the measured phases run JIT-compiled code on warm connections. */
async function warmUp(targets) {
  for (const t of targets) {
    await cannon(t.url, { connections: settings.connections, seconds: settings.warmupSeconds, headers: t.headers });
    if (!quick) await streamLatency(t.url, { concurrency: settings.streamConcurrency, seconds: 1, expectTokens: WORDS, headers: t.headers });
  }
}

/** A fresh gateway under steady mixed load for --soak-minutes; RSS each minute, growth from minute 1 to the last. */
async function soak(gateway) {
  const minutes = settings.soakMinutes;
  log(`soak: ${minutes} min through a fresh lifeline (c=16 JSON requests + 32 looping streams), RSS each minute`);
  const samples = [];
  const load = Promise.all([
    throughput(gateway.url, gateway.pid, { connections: 16, seconds: minutes * 60 }),
    streamLatency(gateway.url, { concurrency: 32, seconds: minutes * 60, expectTokens: WORDS, spreadMs: settings.streamSpreadMs }),
  ]);
  for (let m = 1; m <= Math.ceil(minutes); m++) {
    const wait = Math.min(60, (minutes - (m - 1)) * 60) * 1000;
    const done = await Promise.race([sleep(wait).then(() => false), load.then(() => true)]);
    const rss = rssBytes(gateway.pid);
    samples.push(rss);
    log(`soak: minute ${m}: RSS ${Math.round(rss / 2 ** 20)} MB`);
    if (done) break;
  }
  const [json, streams] = await load;
  const first = samples[0];
  const last = samples[samples.length - 1];
  return { minutes, rssByMinute: samples, growthPct: ((last - first) / first) * 100, json, streams: summarizeStreams([streams]) };
}

async function main() {
  const limit = openFilesLimit();
  // The gateway holds two sockets per stream (client and upstream); keep headroom for everything else.
  const maxStreams = Math.floor((limit - 512) / 2);
  if (settings.holdCounts.some((n) => n > maxStreams)) {
    log(`note: open-files limit ${limit} caps held streams at ${maxStreams} (raise it with ulimit -n)`);
    settings.holdCounts = settings.holdCounts.map((n) => Math.min(n, maxStreams));
  }
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-'));
  const { mock, floor, gateway, config } = await startAll(dir);
  const running = [mock, floor, gateway];
  const targets = [
    { name: 'direct', url: mock.url, pid: mock.pid },
    { name: 'floor', url: floor.url, pid: floor.pid },
    { name: 'lifeline', url: gateway.url, pid: gateway.pid },
  ];
  const raw = { throughput: {}, streams: {}, hold: { floor: [], lifeline: [] } };
  try {
    const portkey = await startPortkey(mock);
    if (portkey) {
      running.push(portkey);
      targets.push({ name: 'portkey', url: portkey.url, pid: portkey.pid, headers: portkey.headers });
      raw.hold.portkey = [];
      log(`portkey ${portkey.url} (pid ${portkey.pid})`);
    }
    log(`mock ${mock.url} · floor ${floor.url} · lifeline ${gateway.url} (pids ${mock.pid}/${floor.pid}/${gateway.pid})`);
    log('warming up…');
    await warmUp(targets);
    raw.rssIdle = Object.fromEntries(targets.slice(1).map((t) => [t.name, rssBytes(t.pid)]));

    // In rounds, targets interleaved: a burst of noise from a neighbour on this shared VM hits all of them.
    const rounds = Object.fromEntries(targets.map((t) => [t.name, []]));
    for (let round = 1; round <= settings.throughputRounds; round++) {
      for (const t of targets) {
        const seconds = settings.seconds / settings.throughputRounds;
        log(`throughput: ${t.name} (round ${round}/${settings.throughputRounds}), c=${settings.connections}, ${seconds.toFixed(1)} s`);
        rounds[t.name].push(await throughput(t.url, t.pid, { connections: settings.connections, seconds, headers: t.headers }));
      }
    }
    for (const t of targets) raw.throughput[t.name] = combineThroughput(rounds[t.name]);

    log(`added latency: c=1, ${settings.latencySeconds} s, targets interleaved`);
    const serial = await serialLatency(targets, { seconds: settings.latencySeconds });
    raw.serial = { failures: serial.failures };
    for (const t of targets) {
      const s = serial.samples[t.name];
      raw.serial[t.name] = { requests: s.length, p50Us: percentile(s, 50), p99Us: percentile(s, 99) };
    }

    // Rounds interleave the targets, so slow drifts of this shared 2-core machine hit all three alike.
    const streamRuns = Object.fromEntries(targets.map((t) => [t.name, []]));
    const streamCpu = Object.fromEntries(targets.map((t) => [t.name, 0]));
    for (let round = 1; round <= settings.streamRounds; round++) {
      for (const t of targets) {
        log(`streams: ${t.name} (round ${round}/${settings.streamRounds}), ${settings.streamConcurrency} at a time, ${WORDS} × 16 B deltas ${settings.streamGapMs} ms apart`);
        const seconds = settings.streamSeconds / settings.streamRounds;
        const cpu0 = cpuMicros(t.pid);
        const run = await streamLatency(t.url, {
          concurrency: settings.streamConcurrency,
          seconds,
          expectTokens: WORDS,
          spreadMs: settings.streamSpreadMs,
          skipRamp: !quick,
          headers: t.headers,
        });
        streamCpu[t.name] += cpuMicros(t.pid) - cpu0;
        streamRuns[t.name].push(run);
      }
    }
    for (const t of targets) {
      const summary = summarizeStreams(streamRuns[t.name]);
      raw.streams[t.name] = { ...summary, cpuUsPerStream: summary.streams > 0 ? streamCpu[t.name] / summary.streams : null };
      if (t.name !== 'direct') raw.streams[t.name].addedP50RangeUs = addedByRound(streamRuns[t.name], streamRuns.direct);
    }

    log(`streams: one at a time, ${SOLO_TOKENS} ${SOLO_TOKENS === 1 ? 'delta' : 'deltas'} each, ${settings.soloSeconds} s, targets interleaved`);
    const solo = await serialFirstToken(targets, { seconds: settings.soloSeconds, maxTokens: SOLO_TOKENS });
    raw.solo = { failures: solo.failures };
    for (const t of targets) raw.solo[t.name] = { streams: solo.samples[t.name].length, ttftP50Ms: percentile(solo.samples[t.name], 50) };

    await setMockPlan(mock, { default: { chunk_gap_ms: settings.holdGapMs } });
    for (const t of targets.slice(1)) {
      for (const count of settings.holdCounts) {
        log(`hold: ${count} concurrent streams through ${t.name}`);
        const h = await holdStreams(t.url, t.pid, { count, sampleMs: settings.holdSampleMs, settleMs: settings.holdSettleMs, headers: t.headers });
        raw.hold[t.name].push(h);
        if (h.failed > 0) log(`hold: ${h.failed} of ${count} streams through ${t.name} failed`);
        await sleep(quick ? 100 : Math.max(1500, count / 2)); // let the aborted streams unwind before the next phase
      }
    }
    await setMockPlan(mock, { default: { chunk_gap_ms: settings.streamGapMs } });

    if (settings.soakMinutes > 0) {
      // The hold phase grew the first gateway's heap to 5,000 streams' worth: the soak starts from a clean one.
      await Promise.all(running.filter((p) => p !== mock).map((p) => stopChild(p)));
      const fresh = await startGateway(config);
      running.push(fresh);
      raw.soak = await soak(fresh);
    }
  } finally {
    log('stopping…');
    await Promise.all(running.map((p) => stopChild(p)));
    rmSync(dir, { recursive: true, force: true });
  }
  log('observability: on (info logs, every request traced, /metrics scraped) against off (bench/observability.mjs)');
  raw.observability = await observabilityCost();
  return report(raw);
}

/** bench/observability.mjs's figures, run as its own child processes after the rest (same build). */
async function observabilityCost() {
  const args = [join(root, 'bench', 'observability.mjs'), join(root, 'dist'), '--json-only', ...(quick ? ['--quick'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  const code = await new Promise((done) => child.once('exit', done));
  if (code !== 0) throw new Error(`bench/observability.mjs exited ${code}`);
  return JSON.parse(out);
}

/**
 * A target's added first token (p50, µs) in each round, against direct's p50 in the same round: [min, max]. How far
 * apart the rounds are is how much to trust the pooled figure; on a shared 2-core VM it is often more than 1 ms.
 */
function addedByRound(runs, directRuns) {
  const added = runs
    .map((run, i) => {
      const p = percentile(run.ttft, 50);
      const d = percentile(directRuns[i]?.ttft ?? [], 50);
      return p === null || d === null ? null : (p - d) * 1000;
    })
    .filter((v) => v !== null);
  return added.length > 0 ? [Math.min(...added), Math.max(...added)] : null;
}

/** Rounds of one target: totals for rate and CPU; the median round's latency percentiles. */
function combineThroughput(list) {
  const requests = list.reduce((n, r) => n + r.requests, 0);
  const cpu = list.reduce((n, r) => n + (r.cpuUsPerReq ?? 0) * r.requests, 0);
  const median = (key) => [...list].map((r) => r[key]).sort((a, b) => a - b)[Math.floor(list.length / 2)];
  return {
    rps: list.reduce((n, r) => n + r.rps, 0) / list.length,
    p50Ms: median('p50Ms'),
    p99Ms: median('p99Ms'),
    cpuUsPerReq: requests > 0 ? cpu / requests : null,
    requests,
    failures: list.reduce((n, r) => n + r.failures, 0),
    rounds: list,
  };
}

function report(raw) {
  const withPortkey = raw.throughput.portkey !== undefined;
  const by = (pick) => ({ direct: pick('direct'), floor: pick('floor'), lifeline: pick('lifeline'), ...(withPortkey ? { portkey: pick('portkey') } : {}) });
  const thr = (key) => by((n) => raw.throughput[n]?.[key] ?? null);
  const added = (pick) => {
    const base = pick('direct');
    const over = (n) => {
      const v = pick(n);
      return v === null || base === null ? null : v - base;
    };
    return { direct: base, floor: over('floor'), lifeline: over('lifeline'), ...(withPortkey ? { portkey: over('portkey') } : {}) };
  };
  const holdRss = (i) => ({ ...by((n) => raw.hold[n]?.[i]?.rssPeak ?? null), direct: null });
  const holdRows = settings.holdCounts.map((count, i) => {
    const isTarget = count >= 5000;
    return row(`RSS, ${count.toLocaleString('en-US')} streams open`, 'mb', holdRss(i), isTarget ? '≤ 512 MB' : '', isTarget ? (v) => v.lifeline <= 512 * 2 ** 20 : undefined);
  });
  const rows = [
    row(`requests/s, c=${settings.connections}`, 'rps', thr('rps'), '≥ 0.7× floor', (v) => v.lifeline >= 0.7 * v.floor),
    row(`latency p50, c=${settings.connections}`, 'ms', thr('p50Ms')),
    row(`latency p99, c=${settings.connections}`, 'ms', thr('p99Ms')),
    row('CPU per request (process tree)', 'us', thr('cpuUsPerReq'), '≤ 1.5× floor', (v) => v.lifeline <= 1.5 * v.floor),
    row('added latency p50, c=1', 'us', added((n) => raw.serial[n].p50Us), '≤ 300 µs', (v) => v.lifeline <= 300, true),
    row('added latency p99, c=1', 'us', added((n) => raw.serial[n].p99Us), '≤ 1,000 µs', (v) => v.lifeline <= 1000, true),
    row('added time to first token p50', 'us', added((n) => raw.streams[n].ttftP50Ms * 1000), '≤ 1,000 µs', (v) => v.lifeline <= 1000, true),
    row('added time to first token p99', 'us', added((n) => raw.streams[n].ttftP99Ms * 1000), '', undefined, true),
    row('  the p50 above, round by round (min…max)', 'msRange', { ...by((n) => raw.streams[n].addedP50RangeUs ?? null), direct: null }),
    row('added time to first token p50, 1 stream', 'us', added((n) => raw.solo[n].ttftP50Ms * 1000), '≤ 1,000 µs', (v) => v.lifeline <= 1000, true),
    row(`inter-chunk gap p99 (sent every ${settings.streamGapMs} ms)`, 'ms', by((n) => raw.streams[n].gapP99Ms)),
    row(`CPU per stream of ${WORDS} deltas`, 'us', by((n) => raw.streams[n].cpuUsPerStream)),
    row('CPU per request, observability on ÷ off', 'ratio', { direct: null, floor: null, lifeline: raw.observability?.ratioPerRequest ?? null }, '≤ 1.15×', (v) => v.lifeline <= 1.15),
    row('RSS idle (after warm-up)', 'mb', { direct: null, ...raw.rssIdle }),
    ...holdRows,
    row(
      `RSS growth over the soak${raw.soak ? ` (${raw.soak.minutes} min)` : ''}`,
      'pct',
      { direct: null, floor: null, lifeline: raw.soak?.growthPct ?? null },
      raw.soak ? '≤ 5 %' : '≤ 5 % (run --soak)',
      (v) => v.lifeline <= 5,
    ),
  ];
  const warnings = [];
  for (const [name, t] of Object.entries(raw.throughput)) if (t.failures > 0) warnings.push(`${name}: ${t.failures} failed requests under load`);
  for (const [name, s] of Object.entries(raw.streams)) if (s.failures > 0) warnings.push(`${name}: ${s.failures} of ${s.streams} streams incomplete`);
  if (raw.serial.failures > 0) warnings.push(`${raw.serial.failures} failed requests at c=1`);
  if (raw.solo.failures > 0) warnings.push(`${raw.solo.failures} failed streams one at a time`);
  for (const [name, list] of Object.entries(raw.hold)) {
    for (const h of list) if (h.failed > 0 || h.inFlight < h.count) warnings.push(`${name}: ${h.inFlight} of ${h.count} streams in flight while sampling (${h.failed} failed)`);
  }
  const checked = rows.filter((r) => r.pass !== null);
  const results = {
    machine: { ...machine(), clkTck: CLK_TCK },
    settings: { ...settings, replyBytesPerDelta: 16, words: WORDS, quick },
    targetsMet: checked.every((r) => r.pass),
    rows: rowsAsJson(rows),
    warnings,
    raw,
  };
  mkdirSync(dirname(resolve(flags.out)), { recursive: true });
  writeFileSync(resolve(flags.out), `${JSON.stringify(results, null, 2)}\n`);
  if (flags['json-only']) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } else {
    const m = results.machine;
    process.stdout.write(`\nLifeline bench — ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.date}${quick ? ' (--quick: figures are not meaningful)' : ''}\n\n`);
    process.stdout.write(`${renderTable(rows)}\n\n`);
    for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
    process.stdout.write(`targets met: ${checked.filter((r) => r.pass).length}/${checked.length} · results in ${resolve(flags.out)}\n`);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
    killAll();
    process.exit(1);
  },
);
