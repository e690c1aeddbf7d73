/**
 * What the mock keeps between requests: the plan and the schedule drawing its faults, the request log, the
 * requests in flight and the connections accepted. `reset` puts the plan, the dice and the log back to the start.
 */
import { type Fault, type FaultPlan, FaultSchedule, validatePlan } from './faults.js';
import { RequestLog } from './stats.js';

export class MockState {
  readonly log: RequestLog;
  /** One per request in flight: aborting it ends every wait of that request. */
  readonly inflight = new Set<AbortController>();
  /** Accepted since start or reset: shows whether clients reuse their connections. */
  connections = 0;
  /** Set when the mock starts closing: a connection it ends then is not the client's doing. */
  closing = false;
  private current: FaultPlan;
  private schedule: FaultSchedule;

  constructor(
    private readonly seed: number,
    private readonly startPlan: FaultPlan,
    /** The answer text. */
    readonly reply: string,
    maxRecords: number,
  ) {
    this.log = new RequestLog(maxRecords);
    this.current = startPlan;
    this.schedule = new FaultSchedule(startPlan, seed);
  }

  get plan(): FaultPlan {
    return this.current;
  }

  /** Replaces the plan (throws `PlanError` if invalid); the script restarts and the PRNG is reseeded. */
  setPlan(next: unknown): void {
    this.current = validatePlan(next);
    this.schedule = new FaultSchedule(this.current, this.seed);
  }

  /** Clears the log and the connection count; the plan goes back to the start plan; the PRNG is reseeded. */
  reset(): void {
    this.log.clear();
    this.connections = 0;
    this.current = this.startPlan;
    this.schedule = new FaultSchedule(this.current, this.seed);
  }

  /** The fault for the next request that reaches a model (null: a healthy answer). */
  nextFault(): Fault | null {
    return this.schedule.next();
  }
}
