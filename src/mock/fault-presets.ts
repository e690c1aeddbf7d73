import type { Fault } from './faults.js';

/** Named faults for `lifeline mock --fail-with`, so the common chaos mixes need no JSON. */
export const FAULT_PRESETS: Readonly<Record<string, Fault>> = {
  '500': { status: 500 },
  '502': { status: 502 },
  '503': { status: 503 },
  '529': { status: 529 },
  '429': { status: 429, retry_after: 1 },
  reset: { reset: true },
  hang: { hang: true },
  slow: { latency_ms: 2000 },
  cut: { cut_after: 2 },
  stall: { stall_after: 2 },
  error_event: { error_event_after: 2 },
  malformed: { malformed: true },
};

export function faultPreset(name: string): Fault {
  const fault = FAULT_PRESETS[name];
  if (!fault) throw new Error(`unknown fault "${name}" (known: ${Object.keys(FAULT_PRESETS).join(', ')})`);
  return { ...fault };
}
