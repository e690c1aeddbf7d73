import { Counter, Registry } from 'prom-client';

/**
 * The gateway's Prometheus metrics, one registry per gateway (a process may run several, as the tests do).
 * Only what the engine records today; request/latency/token metrics come with the observability work.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly streamResumes = new Counter({
    name: 'lifeline_stream_resumes_total',
    help: 'Streams whose upstream failed mid-answer, by outcome: resumed on another upstream, or not_resumed (the client got an error event)',
    labelNames: ['model', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly hedges = new Counter({
    name: 'lifeline_hedges_total',
    help: 'Hedged stream attempts, by which attempt produced the first token',
    labelNames: ['model', 'winner'] as const,
    registers: [this.registry],
  });

  /** Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
