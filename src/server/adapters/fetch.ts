import { Cancel } from '../../cancel.js';
import type { App } from '../app.js';
import type { Exchange } from './exchange.js';

const encoder = new TextEncoder();
const EMPTY: AsyncIterable<Uint8Array> = { async *[Symbol.asyncIterator]() {} };

/**
 * The app as a WHATWG `fetch`: the same HTTP API in-process, no socket. The returned Response resolves
 * when the app sends its status (for streams: when an upstream accepts the stream, or on its first token with
 * `streaming.hold_headers`), and its body streams with backpressure.
 */
export function createFetch(app: App): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  return (input, init) => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    const ac = new Cancel();
    const onAbort = (): void => ac.abort();
    if (req.signal.aborted) ac.abort();
    else req.signal.addEventListener('abort', onAbort, { once: true });

    return new Promise<Response>((resolve) => {
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      let wake: (() => void) | undefined;
      let finished = false;
      const stream = new ReadableStream<Uint8Array>(
        {
          start(c) {
            controller = c;
          },
          pull() {
            wake?.();
            wake = undefined;
          },
          cancel() {
            finished = true;
            ac.abort();
            wake?.();
          },
        },
        { highWaterMark: 16 },
      );
      const length = req.headers.get('content-length');
      const ex: Exchange = {
        method: req.method,
        path: url.pathname,
        headers: Object.fromEntries(req.headers),
        declaredLength: length === null ? undefined : Number(length),
        body: (req.body as AsyncIterable<Uint8Array> | null) ?? EMPTY,
        signal: ac.signal,
        start(status, headers) {
          resolve(new Response(stream, { status, headers }));
        },
        write(chunk) {
          if (finished) return true;
          controller.enqueue(encoder.encode(chunk));
          return (controller.desiredSize ?? 1) > 0;
        },
        drained() {
          if (finished || (controller.desiredSize ?? 1) > 0) return Promise.resolve();
          return new Promise<void>((r) => {
            wake = r;
          });
        },
        end(chunk) {
          if (finished) return;
          finished = true;
          if (chunk !== undefined) controller.enqueue(encoder.encode(chunk));
          controller.close();
          req.signal.removeEventListener('abort', onAbort);
        },
      };
      app.handle(ex).then(
        () => resolve(new Response(null, { status: 500 })), // no-op if start() already resolved
        () => resolve(new Response(null, { status: 500 })),
      );
    });
  };
}
