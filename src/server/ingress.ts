import type { GatewayError } from '../errors.js';
import type { Operation, StreamEvent } from '../types.js';

/**
 * A client-facing API shape. It turns the client's body into the canonical (OpenAI) request, and canonical
 * answers, stream events and errors back into its own shape. The app runs every dialect through the same
 * pipeline; only this edge differs.
 */
export interface IngressDialect {
  op: Operation;
  /** Validates the client's body (throw a bad_request GatewayError naming the field) → the canonical request. */
  parse(body: Record<string, unknown>): { model: string; stream: boolean; canonical: Record<string, unknown> };
  /** The canonical JSON answer (text) in this dialect's shape. */
  renderJson(canonical: string): string;
  /** A per-request stream writer; `request` is the canonical request. */
  streamWriter(request?: Record<string, unknown>): StreamWriter;
  errorBody(err: GatewayError): string;
  /** Headers for an error response (content-type, Retry-After…). */
  errorHeaders(err: GatewayError): Record<string, string>;
}

export interface StreamWriter {
  headers: Record<string, string>;
  /** Text to write for one canonical chunk ('' for nothing). */
  chunk(e: Extract<StreamEvent, { type: 'chunk' }>): string;
  /** Text that ends a complete stream. */
  done(): string;
  /** Text that ends a failed stream: an explicit error event, never a clean-looking end. */
  error(err: GatewayError): string;
}
