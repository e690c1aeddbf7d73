#!/usr/bin/env node
// Two builds of Lifeline against each other, for a change's own effect on speed:
//   node bench/ab.mjs BASE_DIST NEW_DIST [--rounds N] [--seconds S] [--quick] [--json-only]
// Each DIST is a build's dist/ directory (see bench/README.md for the worktree recipe). Both gateways run the bench
// config against one mock, their rounds interleaved. On this kind of VM the process started second measured ~9 %
// less CPU per stream than the first with the *same* build, so everything runs twice, with the start order swapped,
// and each build's figures pool both positions. Prints a table; exits 0 whatever the figures say.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { serialFirstToken, streamLatency, throughput } from './lib/load.mjs';
import { cpuMicros, killAll, startChild, stopChild } from './lib/procs.mjs';
import { LISTENING, startMock, WORDS, writeBenchConfig } from './lib/setup.mjs';
import { percentile } from './lib/stats.mjs';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'json-only': { type: 'boolean', default: false },
  },
});
if (positionals.length !== 2) {
  process.stderr.write('usage: node bench/ab.mjs BASE_DIST NEW_DIST [--rounds N] [--seconds S] [--quick] [--json-only]\n');
  process.exit(2);
}
const builds = positionals.map((p, i) => ({ name: i === 0 ? 'base' : 'new', cli: join(resolve(p), 'cli.js') }));
for (const b of builds) if (!existsSync(b.cli)) throw new Error(`${b.cli} is missing: build it first (npx tsc -p tsconfig.build.json)`);

const quick = flags.quick;
const settings = {
  rounds: Number(flags.rounds ?? (quick ? 1 : 4)),
  seconds: Number(flags.seconds ?? (quick ? 0.2 : 3)),
  gapMs: quick ? 2 : 20,
  /** Stream starts staggered over about one stream's length (see streamLatency in lib/load.mjs). */
  spreadMs: quick ? 2 : 20 * WORDS,
  streams: quick ? 4 : 32,
};
const log = (line) => {
  if (!flags['json-only']) process.stderr.write(`${line}\n`);
};
process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killAll();
    process.exit(1);
  });
}

/** Totals per build, over both sessions: CPU and counts, and the raw first-token samples. */
const totals = Object.fromEntries(builds.map((b) => [b.name, { reqCpu: 0, requests: 0, rps: [], streamCpu: 0, streams: 0, ttft: [], solo: [] }]));
const direct = { ttft: [], solo: [] };

async function session(order, mock, config) {
  const gateways = [];
  for (const b of order) {
    const g = await startChild(b.name, [b.cli, 'serve', '--config', config], { pattern: LISTENING });
    gateways.push({ ...b, url: g.url, pid: g.pid, proc: g });
  }
  try {
    for (const g of gateways) await streamLatency(g.url, { concurrency: settings.streams, seconds: quick ? 0.1 : 1.5, expectTokens: WORDS });
    for (let round = 0; round < settings.rounds; round++) {
      const targets = round % 2 === 0 ? gateways : [...gateways].reverse();
      for (const g of targets) {
        const t = await throughput(g.url, g.pid, { connections: 32, seconds: settings.seconds });
        const sum = totals[g.name];
        sum.reqCpu += (t.cpuUsPerReq ?? 0) * t.requests;
        sum.requests += t.requests;
        sum.rps.push(t.rps);
      }
      const streams = { concurrency: settings.streams, seconds: settings.seconds, expectTokens: WORDS, spreadMs: settings.spreadMs, skipRamp: !quick };
      const d = await streamLatency(mock.url, streams);
      direct.ttft.push(...d.ttft);
      for (const g of targets) {
        const cpu0 = cpuMicros(g.pid);
        const run = await streamLatency(g.url, streams);
        const sum = totals[g.name];
        sum.streamCpu += cpuMicros(g.pid) - cpu0;
        sum.streams += run.streams;
        sum.ttft.push(...run.ttft);
      }
    }
    const solo = await serialFirstToken([{ name: 'direct', url: mock.url }, ...gateways], { seconds: settings.seconds * 2, maxTokens: 1 });
    direct.solo.push(...solo.samples.direct);
    for (const g of gateways) totals[g.name].solo.push(...solo.samples[g.name]);
  } finally {
    await Promise.all(gateways.map((g) => stopChild(g.proc)));
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-ab-'));
  const mock = await startMock(builds[0].cli, settings.gapMs);
  const config = writeBenchConfig(dir, mock.url, 'bench/ab.mjs');
  try {
    log(`session 1 of 2: ${builds[0].name} started first`);
    await session(builds, mock, config);
    log(`session 2 of 2: ${builds[1].name} started first`);
    await session([...builds].reverse(), mock, config);
  } finally {
    await stopChild(mock);
    rmSync(dir, { recursive: true, force: true });
  }
  const directTtft = percentile(direct.ttft, 50);
  const directSolo = percentile(direct.solo, 50);
  const figures = Object.fromEntries(
    builds.map(({ name }) => {
      const t = totals[name];
      return [
        name,
        {
          cpuUsPerRequest: t.requests > 0 ? t.reqCpu / t.requests : null,
          requestsPerSecond: t.rps.reduce((a, b) => a + b, 0) / Math.max(1, t.rps.length),
          cpuUsPerStream: t.streams > 0 ? t.streamCpu / t.streams : null,
          addedTtftMs32: percentile(t.ttft, 50) - directTtft,
          addedTtftMsSolo: percentile(t.solo, 50) - directSolo,
          streams: t.streams,
          soloSamples: t.solo.length,
        },
      ];
    }),
  );
  return figures;
}

const figures = await main();
if (flags['json-only']) process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
else {
  const { base, new: next } = figures;
  const lines = [
    ['figure', 'base', 'new', 'new vs base'],
    ['CPU per request (µs)', base.cpuUsPerRequest, next.cpuUsPerRequest, 'ratio'],
    ['requests/s, c=32', base.requestsPerSecond, next.requestsPerSecond, 'ratio'],
    [`CPU per stream of ${WORDS} deltas (µs)`, base.cpuUsPerStream, next.cpuUsPerStream, 'ratio'],
    [`added time to first token p50, ${settings.streams} streams (ms)`, base.addedTtftMs32, next.addedTtftMs32, 'diff'],
    ['added time to first token p50, 1 stream (ms)', base.addedTtftMsSolo, next.addedTtftMsSolo, 'diff'],
  ].map(([figure, a, b, how], i) => {
    if (i === 0) return [figure, a, b, how];
    const fmt = (v) => (v === null || Number.isNaN(v) ? '—' : how === 'diff' ? v.toFixed(3) : Math.round(v).toLocaleString('en-US'));
    const vs = a === null || b === null ? '—' : how === 'diff' ? `${b - a >= 0 ? '+' : ''}${(b - a).toFixed(3)} ms` : `${(b / a).toFixed(3)} ×`;
    return [figure, fmt(a), fmt(b), vs];
  });
  const widths = lines[0].map((_, c) => Math.max(...lines.map((l) => String(l[c]).length)));
  const out = lines.map((l) => l.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]))).join('  '));
  process.stdout.write(`\n${out[0]}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${out.slice(1).join('\n')}\n`);
  process.stdout.write(`\n${base.streams} / ${next.streams} streams, ${base.soloSamples} / ${next.soloSamples} one-stream samples; both builds in both start positions\n`);
}
