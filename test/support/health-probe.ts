import { Agent, request } from 'node:http';
import { Worker } from 'node:worker_threads';

/**
 * Polling a gateway's GET /health one request at a time (a short pause between them) while something else runs,
 * to see whether the gateway kept answering.
 */
export interface HealthProbe {
  /** `maxGapMs`: the longest stretch without an answer, from the start to the end of the probe. */
  stop(): Promise<{ answers: number; maxGapMs: number; latencies: number[] }>;
}

/**
 * On this thread: everything here shares the event loop with the gateway under test, so a synchronous stretch
 * anywhere shows as a gap between answers. (Its latencies understate a stall: a probe request is not even sent
 * while the loop is held. `probeHealthFromWorker` measures latency.)
 */
export function probeHealth(serverUrl: string, pauseMs = 10): HealthProbe {
  const url = new URL('/health', serverUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  let running = true;
  let last = performance.now();
  let maxGapMs = 0;
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`/health answered ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end();
    });
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      await once();
      const now = performance.now();
      latencies.push(now - t0);
      maxGapMs = Math.max(maxGapMs, now - last);
      last = now;
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      maxGapMs = Math.max(maxGapMs, performance.now() - last);
      agent.destroy();
      return { answers: latencies.length, maxGapMs, latencies };
    },
  };
}

// The worker's code, plain CommonJS (a worker does not go through the test's TypeScript transform).
const PROBER = `
const { parentPort, workerData } = require('node:worker_threads');
const { Agent, request } = require('node:http');
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const latencies = [];
let running = true;
let last = performance.now();
let maxGapMs = 0;
let failures = 0;
parentPort.on('message', () => { running = false; });
const once = () => new Promise((resolve, reject) => {
  const req = request(workerData.url, { agent }, (res) => {
    res.resume();
    res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error('status ' + res.statusCode))));
  });
  req.on('error', reject);
  req.end();
});
(async () => {
  while (running) {
    const t0 = performance.now();
    try {
      await once();
      const now = performance.now();
      latencies.push(now - t0);
      maxGapMs = Math.max(maxGapMs, now - last);
      last = now;
    } catch {
      failures++;
    }
    await new Promise((r) => setTimeout(r, workerData.pauseMs));
  }
  maxGapMs = Math.max(maxGapMs, performance.now() - last);
  agent.destroy();
  parentPort.postMessage({ answers: latencies.length, maxGapMs, latencies, failures });
})();
`;

/**
 * From a worker thread, with its own event loop: each latency is the time a client waits for the gateway, a stall
 * included, whatever the gateway's thread is doing when the request is sent.
 */
export function probeHealthFromWorker(serverUrl: string, pauseMs = 10): HealthProbe {
  const worker = new Worker(PROBER, { eval: true, workerData: { url: new URL('/health', serverUrl).href, pauseMs } });
  const result = new Promise<{ answers: number; maxGapMs: number; latencies: number[]; failures: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    async stop() {
      worker.postMessage('stop');
      const { failures, ...figures } = await result;
      await worker.terminate();
      if (failures > 0) throw new Error(`${failures} /health request(s) failed`);
      return figures;
    },
  };
}
