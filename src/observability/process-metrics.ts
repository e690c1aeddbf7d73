import { collectDefaultMetrics, Registry } from 'prom-client';

let shared: Registry | undefined;

/**
 * The process's own metrics (prom-client's defaults: CPU, memory, event-loop lag, GC, handles), in one registry per
 * process, made on the first scrape. They describe the process, not a gateway, and `collectDefaultMetrics` starts
 * observers (GC, event-loop delay) that live as long as the process: made once, however many gateways the process
 * runs (the tests run dozens), and each gateway's `/metrics` appends them to its own series.
 */
export function processRegistry(): Registry {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}
