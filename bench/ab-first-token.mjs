#!/usr/bin/env node
// Two builds of Lifeline side by side, for a change's effect on the first token under concurrent streams:
//   node bench/ab-first-token.mjs BASE_DIST NEW_DIST [--rounds N] [--seconds S] [--streams N] [--quick] [--json-only]
// Both gateways take their share of the streams *at the same time* (half each, starts spread as in the bench),
// against one mock, so a neighbour's burst or a slower minute on this shared VM hits both alike. bench/ab.mjs runs
// the builds one after the other, and its 32-stream first token swung ±0.17 ms between two runs of the same pair;
// this one's same-build spread was ±0.02–0.05 ms (2026-11-27). Each build runs in both start positions (two
// sessions), since the process started second measured less CPU with the same build. Exits 0 whatever it finds.
import { abSetup, inBothOrders, startGateways, stopGateways } from './lib/ab.mjs';
import { streamLatency } from './lib/load.mjs';
import { cpuMicros } from './lib/procs.mjs';
import { WORDS } from './lib/setup.mjs';
import { percentile } from './lib/stats.mjs';

const USAGE = 'node bench/ab-first-token.mjs BASE_DIST NEW_DIST [--rounds N] [--seconds S] [--streams N] [--quick] [--json-only]';
const { flags, builds, log } = abSetup(USAGE, { streams: { type: 'string' } });
const quick = flags.quick;
const total = Number(flags.streams ?? (quick ? 4 : 32));
/** Streams per gateway: half the total each. */
const perGateway = Math.max(1, Math.floor(total / 2));
const settings = {
  /** Rounds per session; there are two sessions (start orders). */
  rounds: Number(flags.rounds ?? (quick ? 1 : 3)),
  seconds: Number(flags.seconds ?? (quick ? 0.2 : 10)),
  gapMs: quick ? 2 : 20,
};
const totals = Object.fromEntries(builds.map((b) => [b.name, { ttft: [], roundP50: [], cpu: 0, streams: 0, failures: 0 }]));

async function session(order, _mock, config) {
  const gateways = await startGateways(order, config);
  try {
    const each = { concurrency: perGateway, expectTokens: WORDS, spreadMs: settings.gapMs * WORDS, skipRamp: !quick };
    await Promise.all(gateways.map((g) => streamLatency(g.url, { ...each, seconds: quick ? 0.1 : 3 }))); // warm-up
    for (let round = 0; round < settings.rounds; round++) {
      const cpu0 = gateways.map((g) => cpuMicros(g.pid));
      const runs = await Promise.all(gateways.map((g) => streamLatency(g.url, { ...each, seconds: settings.seconds })));
      gateways.forEach((g, i) => {
        const t = totals[g.name];
        t.ttft.push(...runs[i].ttft);
        t.roundP50.push(percentile(runs[i].ttft, 50));
        t.cpu += cpuMicros(g.pid) - cpu0[i];
        t.streams += runs[i].streams;
        t.failures += runs[i].failures;
      });
      log(`  round ${round + 1}: ${gateways.map((g) => `${g.name} ${totals[g.name].roundP50.at(-1).toFixed(3)} ms`).join(', ')}`);
    }
  } finally {
    await stopGateways(gateways);
  }
}

async function main() {
  const note = ` (${perGateway} streams each, at the same time)`;
  await inBothOrders(builds, { gapMs: settings.gapMs, by: 'bench/ab-first-token.mjs', log, note }, session);
  const { base, new: next } = totals;
  const diffs = next.roundP50.map((v, i) => v - (base.roundP50[i] ?? Number.NaN)).sort((a, b) => a - b);
  const figure = (t) => ({
    firstTokenP50Ms: percentile(t.ttft, 50),
    firstTokenP90Ms: percentile(t.ttft, 90),
    cpuUsPerStream: t.streams > 0 ? t.cpu / t.streams : null,
    streams: t.streams,
    failures: t.failures,
  });
  return { base: figure(base), new: figure(next), perRoundDiffMs: diffs, perRoundDiffMedianMs: percentile(diffs, 50) };
}

const out = await main();
if (flags['json-only']) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
else {
  const ms = (v) => (v === null || Number.isNaN(v) ? '—' : v.toFixed(3));
  const signed = (v) => `${v >= 0 ? '+' : ''}${v.toFixed(3)} ms`;
  const lines = [
    ['figure', 'base', 'new', 'new vs base'],
    ['time to first token p50 (ms)', ms(out.base.firstTokenP50Ms), ms(out.new.firstTokenP50Ms), signed(out.new.firstTokenP50Ms - out.base.firstTokenP50Ms)],
    ['time to first token p90 (ms)', ms(out.base.firstTokenP90Ms), ms(out.new.firstTokenP90Ms), signed(out.new.firstTokenP90Ms - out.base.firstTokenP90Ms)],
    [
      `CPU per stream of ${WORDS} deltas (µs)`,
      Math.round(out.base.cpuUsPerStream ?? 0).toLocaleString('en-US'),
      Math.round(out.new.cpuUsPerStream ?? 0).toLocaleString('en-US'),
      `${((out.new.cpuUsPerStream ?? 0) / (out.base.cpuUsPerStream || 1)).toFixed(3)} ×`,
    ],
  ];
  const widths = lines[0].map((_, c) => Math.max(...lines.map((l) => String(l[c]).length)));
  const text = lines.map((l) => l.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]))).join('  '));
  process.stdout.write(`\n${text[0]}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${text.slice(1).join('\n')}\n`);
  process.stdout.write(
    `\nnew − base, round by round: median ${signed(out.perRoundDiffMedianMs)} (${out.perRoundDiffMs.map((v) => v.toFixed(2)).join(' ')})\n` +
      `${out.base.streams} / ${out.new.streams} streams (${out.base.failures} / ${out.new.failures} failed); both builds in both start positions\n`,
  );
}
