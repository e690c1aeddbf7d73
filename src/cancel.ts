/**
 * Cancellation on the request path. A request makes a few of these (the client connection, its deadline, a
 * hedge's racers); an AbortController costs several times what this does to make, and its EventTarget
 * listeners more again (measured: ~5 % of the gateway's CPU per request). A WHATWG AbortSignal satisfies
 * `CancelSignal`, so callers that hold one (the in-process fetch, tests) pass it as is.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export class Cancel implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] | undefined;

  /** For symmetry with AbortController: the handle is its own signal. */
  get signal(): CancelSignal {
    return this;
  }

  /** Listeners run once, on abort; one added after the abort never runs, as with AbortSignal. */
  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    if (this.listeners) this.listeners.push(listener);
    else this.listeners = [listener];
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const i = this.listeners?.indexOf(listener) ?? -1;
    if (i !== -1) this.listeners?.splice(i, 1);
  }

  /** Idempotent. A listener that throws does not stop the others; its error is rethrown asynchronously. */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason ?? new DOMException('This operation was aborted', 'AbortError');
    const listeners = this.listeners;
    this.listeners = undefined;
    if (!listeners) return;
    for (const listener of listeners) {
      try {
        listener();
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  /** Aborts this one too (with the same reason) when `parent` aborts. Returns the unlink. */
  follow(parent: CancelSignal): () => void {
    if (parent.aborted) {
      this.abort(parent.reason);
      return noop;
    }
    const onAbort = (): void => this.abort(parent.reason);
    parent.addEventListener('abort', onAbort, { once: true });
    return () => parent.removeEventListener('abort', onAbort);
  }
}

const noop = (): void => {};
