#!/usr/bin/env node
// What seeing everything costs: one build of Lifeline twice against one mock, with observability off (warn-level
// logs, no traces; the metrics are counted either way) and on (a JSON log line per request, every request traced
// to a local OTLP/HTTP receiver, /metrics scraped every second as Prometheus would):
//   node bench/observability.mjs [DIST] [--only logs|traces|scrape] [--sample R] [--rounds N] [--seconds S] [--quick] [--json-only]
// DIST defaults to dist/. Both gateways run in both start orders (the one started second measures less CPU on this
// kind of VM) and their rounds interleave. Prints CPU per request and per stream, on against off; the target is
// CPU per request on ≤ 1.15 × off. Exits 0 whatever the figures say.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { benchArgs, inBothOrders, startGateways, stopGateways } from './lib/ab.mjs';
import { streamLatency, throughput } from './lib/load.mjs';
import { cpuMicros } from './lib/procs.mjs';
import { WORDS } from './lib/setup.mjs';

const USAGE = 'node bench/observability.mjs [DIST] [--only logs|traces|scrape] [--sample R] [--rounds N] [--seconds S] [--quick] [--json-only]';
const { flags, positionals, log } = benchArgs(
  USAGE,
  {
    /** Only one part on (`logs`, `traces` or `scrape`), to see what each costs. */
    only: { type: 'string' },
    /** `tracing.sample_ratio` of the on gateway (default 1: every request traced). */
    sample: { type: 'string', default: '1' },
  },
  (p) => p.length <= 1,
);
const cli = join(resolve(positionals[0] ?? 'dist'), 'cli.js');
const quick = flags.quick;
const settings = {
  rounds: Number(flags.rounds ?? (quick ? 1 : 4)),
  seconds: Number(flags.seconds ?? (quick ? 0.2 : 3)),
  gapMs: quick ? 2 : 20,
  streams: quick ? 4 : 32,
};

/** A local OTLP/HTTP trace receiver: reads each export whole and answers 200, counting what it got. */
function startReceiver() {
  const got = { exports: 0, bytes: 0 };
  const server = createServer((req, res) => {
    req.on('data', (chunk) => {
      got.bytes += chunk.length;
    });
    req.on('end', () => {
      got.exports++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done({ server, got, url: `http://127.0.0.1:${server.address().port}` })));
}

/** The bench config plus one section per setting; the gateway reads the later key. */
function variant(config, name, lines) {
  const file = config.replace(/\.yaml$/, `.${name}.yaml`);
  writeFileSync(file, [`# bench/observability.mjs: observability ${name}`, ...lines, ''].join('\n'));
  return file;
}

const receiver = await startReceiver();
const totals = { off: { reqCpu: 0, requests: 0, streamCpu: 0, streams: 0 }, on: { reqCpu: 0, requests: 0, streamCpu: 0, streams: 0 } };
let scrapes = 0;

async function session(order, _mock, config) {
  const base = readFileSync(config, 'utf8');
  const configs = {
    off: variant(config, 'off', [base, 'logging: { level: warn }']),
    on: variant(config, 'on', [
      base,
      `logging: { level: ${!flags.only || flags.only === 'logs' ? 'info' : 'warn'} }`,
      ...(!flags.only || flags.only === 'traces' ? [`tracing: { otlp_endpoint: "${receiver.url}", sample_ratio: ${Number(flags.sample)} }`] : []),
    ]),
  };
  const gateways = [];
  try {
    for (const b of order) gateways.push(...(await startGateways([{ name: b.name, cli }], configs[b.name])));
    const on = gateways.find((g) => g.name === 'on');
    const scraper = setInterval(() => {
      if (flags.only && flags.only !== 'scrape') return;
      fetch(`${on.url}/metrics`)
        .then((r) => r.text())
        .then(() => scrapes++, () => {});
    }, 1000);
    try {
      for (const g of gateways) await streamLatency(g.url, { concurrency: settings.streams, seconds: quick ? 0.1 : 1, expectTokens: WORDS });
      for (let round = 0; round < settings.rounds; round++) {
        const targets = round % 2 === 0 ? gateways : [...gateways].reverse();
        for (const g of targets) {
          const t = await throughput(g.url, g.pid, { connections: 32, seconds: settings.seconds });
          totals[g.name].reqCpu += (t.cpuUsPerReq ?? 0) * t.requests;
          totals[g.name].requests += t.requests;
        }
        for (const g of targets) {
          const cpu0 = cpuMicros(g.pid);
          const run = await streamLatency(g.url, { concurrency: settings.streams, seconds: settings.seconds, expectTokens: WORDS, skipRamp: !quick });
          totals[g.name].streamCpu += cpuMicros(g.pid) - cpu0;
          totals[g.name].streams += run.streams;
        }
      }
    } finally {
      clearInterval(scraper);
    }
  } finally {
    await stopGateways(gateways);
  }
}

await inBothOrders([{ name: 'off', cli }, { name: 'on', cli }], { gapMs: settings.gapMs, by: 'bench/observability.mjs', log }, session);
receiver.server.close();
const per = (t) => ({
  cpuUsPerRequest: t.requests > 0 ? t.reqCpu / t.requests : null,
  cpuUsPerStream: t.streams > 0 ? t.streamCpu / t.streams : null,
  requests: t.requests,
  streams: t.streams,
});
const figures = { off: per(totals.off), on: per(totals.on), traceExports: receiver.got.exports, traceBytes: receiver.got.bytes, scrapes };
figures.ratioPerRequest = figures.on.cpuUsPerRequest / figures.off.cpuUsPerRequest;
figures.ratioPerStream = figures.on.cpuUsPerStream / figures.off.cpuUsPerStream;
if (flags['json-only']) process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
else {
  const f = (v) => Math.round(v).toLocaleString('en-US');
  process.stdout.write(
    [
      '',
      'figure                                 off       on    on vs off',
      '----------------------------------  ------  -------  -----------',
      `CPU per request (µs)                ${f(figures.off.cpuUsPerRequest).padStart(6)}  ${f(figures.on.cpuUsPerRequest).padStart(7)}  ${figures.ratioPerRequest.toFixed(3).padStart(9)} ×   (target ≤ 1.15 ×)`,
      `CPU per stream of ${WORDS} deltas (µs)   ${f(figures.off.cpuUsPerStream).padStart(6)}  ${f(figures.on.cpuUsPerStream).padStart(7)}  ${figures.ratioPerStream.toFixed(3).padStart(9)} ×`,
      '',
      `${figures.off.requests + figures.on.requests} requests, ${figures.off.streams + figures.on.streams} streams; ${figures.traceExports} trace exports (${f(figures.traceBytes / 1024)} KiB) received; /metrics scraped ${scrapes} times`,
      '',
    ].join('\n'),
  );
}
