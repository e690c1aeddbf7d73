import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The benchmark harness (bench/run.mjs) in --quick mode: it starts the mock, the floor proxy and the built
// gateway (dist/, made by pretest) as child processes, runs every phase for a moment and prints its table.
// Only that it completes is checked: timings on a shared CI machine mean nothing.
const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runBench(args: string[], script = 'run.mjs'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bench', script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM'); // the harness kills its own children on SIGTERM
      reject(new Error(`bench/${script} --quick did not finish in 100 s:\n${stderr}`));
    }, 100_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('npm run bench', () => {
  it('runs every phase in --quick mode, prints the figures table and writes results to --out', { timeout: 110_000 }, async () => {
    const out = join(dir, 'results.json');
    const { code, stdout, stderr } = await runBench(['--quick', '--out', out]);
    expect(code, stderr).toBe(0);
    for (const figure of ['requests/s, c=32', 'CPU per request', 'CPU per stream', 'added latency p50, c=1', 'added time to first token p50', 'streams open', 'CPU per request, observability on ÷ off']) {
      expect(stdout).toContain(figure);
    }
    // The 32-stream first token's spread over rounds: a range for each gateway column.
    expect(stdout).toMatch(/the p50 above, round by round \(min…max\)\s+—\s+(-?\d+\.\d{2}…-?\d+\.\d{2} ms\s+){3}/);
    // Portkey's column is there when @portkey-ai/gateway is installed (a devDependency, so after npm ci).
    expect(stdout).toMatch(/figure\s+direct\s+floor\s+lifeline\s+portkey\s+target\s+pass\?/);
    expect(existsSync(out)).toBe(true);
    const results = JSON.parse(readFileSync(out, 'utf8')) as {
      machine: { node: string };
      rows: Array<{ figure: string; lifeline: number | null; portkey: number | null }>;
      raw: { serial: Record<string, { requests: number }> & { failures: number } };
    };
    expect(results.machine.node).toBe(process.version);
    // The throughput phase measured every column. Its rate can be 0 here: --quick gives it 0.2 s, and on a busy
    // machine no request may finish inside that (autocannon counts only answers within the window).
    const throughputRow = results.rows.find((r) => r.figure.startsWith('requests/s'));
    expect(throughputRow?.lifeline).toBeGreaterThanOrEqual(0);
    expect(throughputRow?.portkey).toBeGreaterThanOrEqual(0);
    // That both gateways really answered through the harness: the c=1 phase sends whole rounds of 50 requests to
    // each target (at least one round, however slow the machine), and every one of them was a 200.
    expect(results.raw.serial.lifeline?.requests).toBeGreaterThanOrEqual(50);
    expect(results.raw.serial.portkey?.requests).toBeGreaterThanOrEqual(50);
    expect(results.raw.serial.failures).toBe(0);
  });
});

describe('bench/observability.mjs', () => {
  it('runs one build with observability off and on in --quick mode: traces reach its receiver, /metrics is scraped, the ratio is printed', { timeout: 110_000 }, async () => {
    const { code, stdout, stderr } = await runBench([join(ROOT, 'dist'), '--quick', '--json-only'], 'observability.mjs');
    expect(code, stderr).toBe(0);
    const figures = JSON.parse(stdout) as {
      off: { requests: number; streams: number };
      on: { requests: number; streams: number };
      traceExports: number;
      ratioPerRequest: number;
    };
    // Both gateways answered streams (each round runs whole streams), and the traced one exported spans.
    expect(figures.off.streams).toBeGreaterThan(0);
    expect(figures.on.streams).toBeGreaterThan(0);
    expect(figures.traceExports).toBeGreaterThan(0);
    expect(figures.ratioPerRequest === null || figures.ratioPerRequest > 0).toBe(true);
  });
});

describe('bench/ab.mjs', () => {
  it('measures two builds against each other in --quick mode (here the same build twice) and prints the comparison', { timeout: 60_000 }, async () => {
    const dist = join(ROOT, 'dist');
    const { code, stdout, stderr } = await runBench([dist, dist, '--quick'], 'ab.mjs');
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/session 2 of 2: new started first/); // both start orders ran
    // Every figure has both builds' numbers and their ratio (CPU, rate) or difference (first token).
    expect(stdout).toMatch(/figure\s+base\s+new\s+new vs base/);
    // The request figures come from a 0.2 s autocannon window in --quick mode: on a busy machine no request may
    // finish inside it, and then there is no CPU per request (—) and no finite ratio of the rates (NaN, Infinity).
    expect(stdout).toMatch(/CPU per request \(µs\)\s+([\d,]+|—)\s+([\d,]+|—)\s+(\d+\.\d{3} ×|—)/);
    expect(stdout).toMatch(/requests\/s, c=32\s+[\d,]+\s+[\d,]+\s+(\d+\.\d{3}|NaN|Infinity) ×/);
    expect(stdout).toMatch(/CPU per stream of 64 deltas \(µs\)\s+[\d,]+\s+[\d,]+\s+\d+\.\d{3} ×/);
    expect(stdout).toMatch(/added time to first token p50, 4 streams \(ms\)\s+-?\d+\.\d{3}\s+-?\d+\.\d{3}\s+[+-]\d+\.\d{3} ms/);
    expect(stdout).toMatch(/added time to first token p50, 1 stream \(ms\)\s+-?\d+\.\d{3}\s+-?\d+\.\d{3}\s+[+-]\d+\.\d{3} ms/);
    expect(stdout).toMatch(/both builds in both start positions/);
  });

  it('says how to call it when it is not given two builds', async () => {
    const { code, stderr } = await runBench([], 'ab.mjs');
    expect(code).toBe(2);
    expect(stderr).toMatch(/usage: node bench\/ab\.mjs BASE_DIST NEW_DIST/);
  });
});

describe('bench/ab-first-token.mjs', () => {
  it('runs two builds side by side in --quick mode (here the same build twice) and prints the comparison', { timeout: 60_000 }, async () => {
    const dist = join(ROOT, 'dist');
    const { code, stdout, stderr } = await runBench([dist, dist, '--quick'], 'ab-first-token.mjs');
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/session 1 of 2: base started first \(2 streams each, at the same time\)/);
    expect(stderr).toMatch(/session 2 of 2: new started first/);
    expect(stdout).toMatch(/time to first token p50 \(ms\)\s+\d+\.\d{3}\s+\d+\.\d{3}\s+[+-]\d+\.\d{3} ms/);
    expect(stdout).toMatch(/CPU per stream of 64 deltas \(µs\)\s+[\d,]+\s+[\d,]+\s+\d+\.\d{3} ×/);
    expect(stdout).toMatch(/new − base, round by round: median [+-]\d+\.\d{3} ms \(-?\d+\.\d{2} -?\d+\.\d{2}\)/);
    expect(stdout).toMatch(/\b[1-9]\d* \/ [1-9]\d* streams \(0 \/ 0 failed\)/);
  });

  it('says how to call it when it is not given two builds', async () => {
    const { code, stderr } = await runBench([], 'ab-first-token.mjs');
    expect(code).toBe(2);
    expect(stderr).toMatch(/usage: node bench\/ab-first-token\.mjs BASE_DIST NEW_DIST/);
  });
});
