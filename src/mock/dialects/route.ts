/**
 * How a dialect plugs into the mock server: the routes it answers. A `plain` route answers at once (listings,
 * not faulted, not consuming the plan); a `model` route validates a request, builds its reply and renders its
 * errors, and the fault engine (deliver.ts) plays the reply out under the plan's faults.
 */
import type { FaultRenderer, Reply } from '../deliver.js';

export interface MockContext {
  /** The request number (1-based): ids like `chatcmpl-mock-N`. */
  n: number;
  /** The mock's answer text. */
  reply: string;
  /** The path's regex match: capture groups carry e.g. a model id in the URL. */
  match: RegExpExecArray;
  query: URLSearchParams;
  /** The request's headers (lower-case names), for dialects that check their auth headers. */
  headers: Record<string, string | string[] | undefined>;
}

/** Thrown by a dialect's `handle` for a request the real API would reject. */
export class InvalidRequest extends Error {
  constructor(
    message: string,
    readonly param: string | null = null,
    readonly status = 400,
  ) {
    super(message);
  }
}

interface RouteBase {
  method: 'GET' | 'POST';
  path: RegExp;
  /** Error body (JSON text) in this dialect's shape, for validation errors and plain failures. */
  errorBody(status: number, message: string, code?: string | null, param?: string | null): string;
  /** Whether the route takes a request its path and method match (default yes): two dialects share `GET /v1/models`. */
  accepts?(headers: Record<string, string | string[] | undefined>): boolean;
  /** Extra headers on every response of this route (e.g. Anthropic's `request-id`, Bedrock's `x-amzn-requestid`). */
  responseHeaders?(ctx: MockContext): Record<string, string>;
}

export interface PlainRoute extends RouteBase {
  kind: 'plain';
  body(ctx: MockContext): string;
  /** A model listing: the plan's `models` fault applies to it (rendered by these faults). */
  listing?: FaultRenderer;
}

export interface ModelRoute extends RouteBase {
  kind: 'model';
  /** Validates the parsed JSON body (throw InvalidRequest) and builds the reply. */
  handle(body: unknown, ctx: MockContext): { stream: boolean; reply: Reply };
  faults: FaultRenderer;
}

export type DialectRoute = PlainRoute | ModelRoute;
