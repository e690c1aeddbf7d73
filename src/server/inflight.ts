import { GatewayError } from '../errors.js';

/** What a request still in flight when the gateway stops is answered with (or its stream ended with). */
export function shuttingDown(): GatewayError {
  return new GatewayError('unavailable', 'The gateway is shutting down; retry the request', {
    code: 'server_shutting_down',
    retryAfterMs: 1000,
  });
}

/** The requests the app is handling, so that a shutdown can reach each one and wait until all are done. */
export class Inflight<T> {
  private readonly items = new Set<T>();
  private waiting: (() => void)[] = [];

  add(item: T): void {
    this.items.add(item);
  }

  delete(item: T): void {
    this.items.delete(item);
    if (this.items.size > 0 || this.waiting.length === 0) return;
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }

  /** A copy: stopping a request may finish it (and remove it) at once. */
  all(): T[] {
    return [...this.items];
  }

  /** Resolves once no request is in flight. */
  empty(): Promise<void> {
    if (this.items.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}
