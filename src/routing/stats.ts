/**
 * What an operator sees of a deployment besides its breaker (GET /admin/deployments): the last error, the upstream's
 * remaining rate limits, the last synthetic probe, error ratios over 1 and 5 minutes, and moving averages of answer
 * time and time to first token. Observations only: nothing here decides where a request goes (health.ts does).
 * Pure: time comes in as `now`.
 */
import type { ErrorKind } from '../errors.js';
import type { QuotaName } from '../resilience/retry-hints.js';

export interface LastError {
  kind: ErrorKind;
  /** Epoch ms. */
  at: number;
  status?: number;
  upstreamRequestId?: string;
}

export interface ProbeResult {
  ok: boolean;
  /** Epoch ms when the probe's answer (or failure) came. */
  at: number;
  ms: number;
  error?: { kind: ErrorKind; status?: number; message: string };
}

export interface Quota {
  remaining: Partial<Record<QuotaName, number>>;
  /** Epoch ms of the response that said so. */
  at: number;
}

/** What a failure carries besides its kind (a GatewayError has these fields). */
export interface FailureDetail {
  upstreamStatus?: number | undefined;
  upstreamRequestId?: string | undefined;
}

const BUCKET_MS = 10_000;
const BUCKETS = 31; // 5 minutes of 10-s buckets, and the one being filled
/** Weight of a new sample in the moving averages. */
const ALPHA = 0.2;

export class DeploymentStats {
  lastError: LastError | undefined;
  probe: ProbeResult | undefined;
  quota: Quota | undefined;
  private latency: number | undefined;
  private ttft: number | undefined;
  private readonly buckets = Array.from({ length: BUCKETS }, () => ({ slot: -1, total: 0, failures: 0 }));

  /** An attempt's outcome (client traffic, not probes). */
  outcome(now: number, failed: boolean): void {
    const slot = Math.floor(now / BUCKET_MS);
    const b = this.buckets[slot % BUCKETS]!;
    if (b.slot !== slot) Object.assign(b, { slot, total: 0, failures: 0 });
    b.total += 1;
    if (failed) b.failures += 1;
  }

  failed(now: number, kind: ErrorKind, detail: FailureDetail = {}): void {
    this.outcome(now, true);
    const e: LastError = { kind, at: now };
    if (detail.upstreamStatus !== undefined) e.status = detail.upstreamStatus;
    if (detail.upstreamRequestId !== undefined) e.upstreamRequestId = detail.upstreamRequestId;
    this.lastError = e;
  }

  /** The share of attempts that failed over the last `seconds` (to the 10-s bucket), with how many there were. */
  errorRatio(now: number, seconds: number): { ratio: number | null; attempts: number } {
    const newest = Math.floor(now / BUCKET_MS);
    const oldest = newest - Math.ceil((seconds * 1000) / BUCKET_MS);
    let total = 0;
    let failures = 0;
    for (const b of this.buckets) {
      if (b.slot <= oldest || b.slot > newest) continue;
      total += b.total;
      failures += b.failures;
    }
    return { ratio: total === 0 ? null : failures / total, attempts: total };
  }

  /** A successful attempt's time: to the whole answer (`latency`), or to a stream's first token (`ttft`). */
  sample(what: 'latency' | 'ttft', ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const current = this[what];
    this[what] = current === undefined ? ms : current + ALPHA * (ms - current);
  }

  averages(): { latencyMs?: number; ttftMs?: number } {
    const out: { latencyMs?: number; ttftMs?: number } = {};
    if (this.latency !== undefined) out.latencyMs = Math.round(this.latency);
    if (this.ttft !== undefined) out.ttftMs = Math.round(this.ttft);
    return out;
  }

  sawQuota(now: number, remaining: Partial<Record<QuotaName, number>> | undefined): void {
    if (remaining) this.quota = { remaining, at: now };
  }
}
