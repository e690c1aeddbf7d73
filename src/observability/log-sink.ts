import { write, writeSync } from 'node:fs';

/**
 * Where log lines go by default: a file descriptor (stdout), written asynchronously in batches. Lines go out
 * at most `BATCH_MS` after they are written, in one `fs.write` per batch, so a request never waits on a write.
 * pino's own asynchronous destination (sonic-boom) cost ~3.3 µs per line on this machine; this costs ~0.5.
 *
 * A reader that does not keep up (a full pipe) makes lines queue in memory up to `maxPendingBytes`; past that
 * they are dropped, counted, and the count is logged once the writes catch up. `flushSync` writes whatever is
 * queued; it runs at process exit.
 */
export class LogSink {
  private pending: string[] = [];
  private pendingBytes = 0;
  private writing = false;
  private scheduled = false;
  private dropped = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly fd: number,
    private readonly maxPendingBytes = 16 * 1024 * 1024,
  ) {
    sinks.add(this);
  }

  write(line: string): boolean {
    if (this.closed) return false;
    if (this.pendingBytes + line.length > this.maxPendingBytes) {
      this.dropped++;
      return false;
    }
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (!this.scheduled && !this.writing) {
      this.scheduled = true;
      setTimeout(this.flushSoon, BATCH_MS).unref();
    }
    return true;
  }

  /** Calls back once everything written so far is out (or failed). */
  flush(cb?: (err?: Error) => void): void {
    const done = cb ?? ((): void => {});
    if (!this.writing && this.pending.length === 0) {
      queueMicrotask(done);
      return;
    }
    this.idleWaiters.push(done);
    if (!this.writing) this.flushSoon();
  }

  /** Writes the queue now, blocking. For process exit; a write in flight may still land after these lines. */
  flushSync(): void {
    const text = this.take();
    if (text === '') return;
    try {
      writeSync(this.fd, text);
    } catch {
      // Nowhere left to report a failed log write at exit.
    }
  }

  end(): void {
    this.flushSync();
    this.closed = true;
    sinks.delete(this);
  }

  private take(): string {
    if (this.dropped > 0) {
      this.pending.push(`${JSON.stringify({ level: 40, time: new Date().toISOString(), dropped: this.dropped, msg: 'log lines dropped: stdout did not keep up' })}\n`);
      this.dropped = 0;
    }
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    return text;
  }

  private readonly flushSoon = (): void => {
    this.scheduled = false;
    if (this.writing || this.pending.length === 0) return;
    this.writing = true;
    this.send(Buffer.from(this.take()), 0);
  };

  private send(buf: Buffer, offset: number): void {
    write(this.fd, buf, offset, buf.length - offset, null, (err, written) => {
      if (err) {
        // A non-blocking pipe that is full: try again shortly. Anything else (a closed stdout) drops the batch.
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          setTimeout(() => this.send(buf, offset), 10);
          return;
        }
      } else if (offset + written < buf.length) {
        this.send(buf, offset + written);
        return;
      }
      this.writing = false;
      if (this.pending.length > 0) {
        this.flushSoon();
        return;
      }
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    });
  }
}

/** How long a line may wait for others to share its write. */
const BATCH_MS = 10;

const sinks = new Set<LogSink>();
process.once('exit', () => {
  for (const sink of sinks) sink.flushSync();
});
