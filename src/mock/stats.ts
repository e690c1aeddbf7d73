/** What the mock saw and did: one record per request, counters by outcome. */
import type { Fault, Outcome } from './faults.js';

export interface MockRequestRecord {
  /** 1-based arrival number since start (or the last reset). */
  n: number;
  /** `Date.now()` on arrival. */
  at: number;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or the raw string when it isn't JSON; null when there was no body. */
  body: unknown;
  /** The body exactly as received (UTF-8); undefined when there was none. */
  text?: string;
  stream: boolean;
  fault: Fault | null;
  /** What the mock did (or, for `hang`/`stall`, is doing); `pending` until the request body has arrived. */
  outcome: Outcome;
  status?: number;
  /** When the mock finished the response (or destroyed the socket itself); unset for hang/stall. */
  finishedAt?: number;
  /** The client closed the connection before the mock finished. */
  closedByClientAt?: number;
  /** Content chunks written (stream answers). */
  chunksSent: number;
}

export interface MockStats {
  /** Requests since start or the last reset, including those whose records were dropped by `maxRecords`. */
  requests: number;
  /** Count per outcome; every outcome is present, 0 when it never happened. */
  byOutcome: Record<string, number>;
  /** The most recent records, oldest first. */
  records: MockRequestRecord[];
  /** TCP connections accepted since start or the last reset (set by the server). */
  connections?: number;
}

const OUTCOMES: Outcome[] = ['ok', 'status', 'reset', 'hang', 'cut', 'stall', 'error_event', 'malformed', 'long_line', 'invalid_events', 'pending'];

/** One generation of stats; a reset starts a new one, so requests still in flight can't touch the new counters. */
interface Book {
  requests: number;
  byOutcome: Record<string, number>;
  records: MockRequestRecord[];
  members: WeakSet<MockRequestRecord>;
}

function emptyBook(): Book {
  return {
    requests: 0,
    byOutcome: Object.fromEntries(OUTCOMES.map((o) => [o, 0])),
    records: [],
    members: new WeakSet(),
  };
}

export class RequestLog {
  private book = emptyBook();

  constructor(private readonly maxRecords: number) {}

  begin(init: Pick<MockRequestRecord, 'method' | 'path' | 'headers'>): MockRequestRecord {
    const book = this.book;
    const record: MockRequestRecord = {
      n: ++book.requests,
      at: Date.now(),
      ...init,
      body: null,
      stream: false,
      fault: null,
      outcome: 'pending',
      chunksSent: 0,
    };
    book.byOutcome.pending++;
    book.members.add(record);
    book.records.push(record);
    if (book.records.length > this.maxRecords) book.records.splice(0, book.records.length - this.maxRecords);
    return record;
  }

  /** Settles a record's outcome (once, from `pending`) and counts it. */
  decide(record: MockRequestRecord, fault: Fault | null, outcome: Outcome): void {
    const counted = this.book.members.has(record);
    if (counted) this.book.byOutcome[record.outcome]--;
    record.fault = fault;
    record.outcome = outcome;
    if (counted) this.book.byOutcome[outcome]++;
  }

  snapshot(): MockStats {
    const { requests, byOutcome, records } = this.book;
    return {
      requests,
      byOutcome: { ...byOutcome },
      records: records.map((r) => ({ ...r, headers: { ...r.headers }, fault: r.fault && { ...r.fault } })),
    };
  }

  clear(): void {
    this.book = emptyBook();
  }
}
