import { afterEach, describe, expect, it, vi } from 'vitest';
import { Cancel } from '../../../src/cancel.js';
import { sleep } from '../../../src/resilience/deadline.js';

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('Cancel', () => {
  it('starts not aborted, with no reason, and is its own signal', () => {
    const c = new Cancel();
    expect(c.aborted).toBe(false);
    expect(c.reason).toBeUndefined();
    expect(c.signal).toBe(c);
  });

  it('abort(reason) sets aborted and reason and runs each listener once, in order', () => {
    const c = new Cancel();
    const calls: string[] = [];
    c.addEventListener('abort', () => calls.push('a'));
    c.addEventListener('abort', () => calls.push('b'));
    const reason = new Error('stop');
    c.abort(reason);
    expect(c.aborted).toBe(true);
    expect(c.reason).toBe(reason);
    expect(calls).toEqual(['a', 'b']);
  });

  it('is idempotent: a second abort changes neither the reason nor re-runs listeners', () => {
    const c = new Cancel();
    const listener = vi.fn();
    c.addEventListener('abort', listener);
    c.abort('first');
    c.abort('second');
    c.abort();
    expect(c.reason).toBe('first');
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('defaults the reason to a DOMException named AbortError', () => {
    const c = new Cancel();
    c.abort();
    expect(c.reason).toBeInstanceOf(DOMException);
    expect((c.reason as DOMException).name).toBe('AbortError');
  });

  it('never runs a listener added after the abort', () => {
    const c = new Cancel();
    c.abort();
    const late = vi.fn();
    c.addEventListener('abort', late);
    c.abort();
    expect(late).not.toHaveBeenCalled();
  });

  it('removeEventListener removes only that listener', () => {
    const c = new Cancel();
    const keep1 = vi.fn();
    const gone = vi.fn();
    const keep2 = vi.fn();
    c.addEventListener('abort', keep1);
    c.addEventListener('abort', gone);
    c.addEventListener('abort', keep2);
    c.removeEventListener('abort', gone);
    c.removeEventListener('abort', () => {}); // not registered: a no-op
    c.abort();
    expect(keep1).toHaveBeenCalledTimes(1);
    expect(keep2).toHaveBeenCalledTimes(1);
    expect(gone).not.toHaveBeenCalled();
  });

  it('a throwing listener does not stop later ones; its error is rethrown from a microtask', () => {
    const c = new Cancel();
    const boom = new Error('listener failed');
    const before = vi.fn();
    const after = vi.fn();
    c.addEventListener('abort', before);
    c.addEventListener('abort', () => {
      throw boom;
    });
    c.addEventListener('abort', after);
    // Capture the rethrow instead of letting it reach vitest's uncaught-error handler.
    const queued: (() => void)[] = [];
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((cb) => {
      queued.push(cb);
    });
    expect(() => c.abort()).not.toThrow();
    spy.mockRestore();
    expect(before).toHaveBeenCalledTimes(1);
    expect(after).toHaveBeenCalledTimes(1);
    expect(queued).toHaveLength(1);
    expect(() => queued[0]!()).toThrow(boom);
  });
});

describe('Cancel.follow', () => {
  it('aborts the child with the reason of a parent Cancel', () => {
    const parent = new Cancel();
    const child = new Cancel();
    const onChild = vi.fn();
    child.addEventListener('abort', onChild);
    child.follow(parent);
    expect(child.aborted).toBe(false);
    const reason = new Error('parent gone');
    parent.abort(reason);
    expect(child.aborted).toBe(true);
    expect(child.reason).toBe(reason);
    expect(onChild).toHaveBeenCalledTimes(1);
  });

  it('aborts the child with the reason of a real AbortSignal parent', () => {
    const ac = new AbortController();
    const child = new Cancel();
    child.follow(ac.signal);
    ac.abort('client closed');
    expect(child.aborted).toBe(true);
    expect(child.reason).toBe('client closed');
  });

  it('carries an AbortSignal default reason through unchanged', () => {
    const ac = new AbortController();
    const child = new Cancel();
    child.follow(ac.signal);
    ac.abort();
    expect(child.reason).toBe(ac.signal.reason);
    expect((child.reason as DOMException).name).toBe('AbortError');
  });

  it('aborts at once when the parent is already aborted (Cancel and AbortSignal)', () => {
    const parent = new Cancel();
    parent.abort('early');
    const child = new Cancel();
    const unlink = child.follow(parent);
    expect(child.aborted).toBe(true);
    expect(child.reason).toBe('early');
    expect(() => unlink()).not.toThrow();

    const child2 = new Cancel();
    child2.follow(AbortSignal.abort('already'));
    expect(child2.aborted).toBe(true);
    expect(child2.reason).toBe('already');
  });

  it('the returned unlink stops propagation (Cancel and AbortSignal)', () => {
    const parent = new Cancel();
    const child = new Cancel();
    child.follow(parent)();
    parent.abort('x');
    expect(child.aborted).toBe(false);

    const ac = new AbortController();
    const child2 = new Cancel();
    child2.follow(ac.signal)();
    ac.abort('y');
    expect(child2.aborted).toBe(false);
  });

  it('aborting the child does not abort the parent', () => {
    const parent = new Cancel();
    const child = new Cancel();
    child.follow(parent);
    child.abort('child only');
    expect(parent.aborted).toBe(false);

    const ac = new AbortController();
    const child2 = new Cancel();
    child2.follow(ac.signal);
    child2.abort('child only');
    expect(ac.signal.aborted).toBe(false);
  });
});

describe('sleep with a Cancel signal', () => {
  it('resolves after the delay and removes its abort listener', async () => {
    vi.useFakeTimers();
    const c = new Cancel();
    const remove = vi.spyOn(c, 'removeEventListener');
    let done = false;
    const p = sleep(1_000, c).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await p;
    expect(done).toBe(true);
    expect(remove).toHaveBeenCalledTimes(1);
  });

  it('rejects with the reason when aborted mid-sleep, and clears its timer', async () => {
    vi.useFakeTimers();
    const c = new Cancel();
    const p = sleep(60_000, c);
    expect(vi.getTimerCount()).toBe(1);
    const reason = new Error('deadline');
    c.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const c = new Cancel();
    c.abort('gone');
    await expect(sleep(60_000, c)).rejects.toBe('gone');
  });

  it('resolves with real timers too', async () => {
    await expect(sleep(5, new Cancel())).resolves.toBeUndefined();
  });
});
