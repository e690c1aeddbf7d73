#!/usr/bin/env node
// Two builds of Lifeline against each other, for a change's own effect on speed:
//   node bench/ab.mjs BASE_DIST NEW_DIST [--rounds N] [--seconds S] [--quick] [--json-only]
// Each DIST is a build's dist/ directory (see bench/README.md for the worktree recipe). Both gateways run the bench
// config against one mock, their rounds interleaved. On this kind of VM the process started second measured ~9 %
// less CPU per stream than the first with the *same* build, so everything runs twice, with the start order swapped,
// and each build's figures pool both positions. Prints a table; exits 0 whatever the figures say.
import { abSetup, inBothOrders, startGateways, stopGateways } from './lib/ab.mjs';
import { serialFirstToken, streamLatency, throughput } from './lib/load.mjs';
import { cpuMicros } from './lib/procs.mjs';
import { WORDS } from './lib/setup.mjs';
import { percentile } from './lib/stats.mjs';

const { flags, builds, log } = abSetup('node bench/ab.mjs BASE_DIST NEW_DIST [--rounds N] [--seconds S] [--quick] [--json-only]');
const quick = flags.quick;
const settings = {
  rounds: Number(flags.rounds ?? (quick ? 1 : 4)),
  seconds: Number(flags.seconds ?? (quick ? 0.2 : 3)),
  gapMs: quick ? 2 : 20,
  /** Stream starts staggered over about one stream's length (see streamLatency in lib/load.mjs). */
  spreadMs: quick ? 2 : 20 * WORDS,
  streams: quick ? 4 : 32,
};
/** Totals per build, over both sessions: CPU and counts, and the raw first-token samples. */
const totals = Object.fromEntries(builds.map((b) => [b.name, { reqCpu: 0, requests: 0, rps: [], streamCpu: 0, streams: 0, ttft: [], solo: [] }]));
const direct = { ttft: [], solo: [] };

async function session(order, mock, config) {
  const gateways = await startGateways(order, config);
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
    await stopGateways(gateways);
  }
}

async function main() {
  await inBothOrders(builds, { gapMs: settings.gapMs, by: 'bench/ab.mjs', log }, session);
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
