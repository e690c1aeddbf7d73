/**
 * The chaos provider: an OpenAI-compatible fake LLM server with scriptable, seeded faults. The project's only
 * test double, the engine of `lifeline mock`, and the upstream of the benchmark.
 *
 *   const mock = await startMock({ plan: { script: [{ status: 429, retry_after: 1 }, {}] } });
 *   const client = new OpenAI({ baseURL: mock.url, apiKey: 'sk-test' });
 */
export { startMock, type MockOptions, type MockServer } from './server.js';
export type { MockDialect } from './dialects/index.js';
export { FAULT_PRESETS, faultPreset } from './fault-presets.js';
export type { MockRequestRecord, MockStats } from './stats.js';
export {
  type Fault,
  type FaultPlan,
  type Outcome,
  FaultSchedule,
  mulberry32,
  PlanError,
  plannedOutcome,
  validatePlan,
} from './faults.js';
