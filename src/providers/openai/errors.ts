/**
 * OpenAI's errors → GatewayError: the body `{"error":{"message","type","code","param"}}` (or those fields at the top
 * level, as some compatible hosts send them) with the HTTP status; a mid-stream `{"error":…}` chunk. Shared by
 * every host of the OpenAI wire (Azure, the presets). Pure.
 */
import { GatewayError } from '../../errors.js';
import { secretsOf } from '../../secrets.js';
import type { Deployment, Headers } from '../../types.js';
import { firstHeader, malformed, statusError } from '../shared/errors.js';

export interface WireError {
  message?: unknown;
  type?: unknown;
  code?: unknown;
  param?: unknown;
}

/** The error object of an OpenAI-style error body (`{"error":{…}}`, else the body itself), or {} for anything else. */
export function readWireError(bodyText: string): WireError {
  try {
    const parsed = JSON.parse(bodyText) as { error?: unknown };
    if (parsed && typeof parsed === 'object' && parsed.error && typeof parsed.error === 'object') {
      return parsed.error as WireError;
    }
    if (parsed && typeof parsed === 'object') return parsed as WireError;
  } catch {
    // Not JSON (an HTML error page from a proxy, say): classification falls back to the status.
  }
  return {};
}

const REQUEST_ID_HEADERS = ['x-request-id'];

/** The upstream's request id: OpenAI's `x-request-id`. */
export function openAIRequestId(headers: Headers): string | undefined {
  return firstHeader(headers, REQUEST_ID_HEADERS);
}

/**
 * Everything in an upstream error is untrusted (an upstream may echo the key it was sent in any field): the raw
 * code and message only classify; what is kept is scrubbed of the provider's secrets, and the code and param only
 * when they are plain identifiers.
 */
export function classifyOpenAIError(status: number, headers: Headers, bodyText: string, d: Deployment): GatewayError {
  const wire = readWireError(bodyText);
  return statusError(
    status,
    headers,
    {
      message: typeof wire.message === 'string' ? wire.message : '',
      code: typeof wire.code === 'string' ? wire.code : '',
      shownCode: wire.code,
      param: wire.param,
      requestId: openAIRequestId(headers),
    },
    d,
  );
}

/** An `{"error":…}` chunk inside a stream, or undefined when `data` is not one. */
export function openAIStreamError(data: string, d: Deployment): GatewayError | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || !('error' in parsed)) return undefined;
  const wire = ((parsed as { error: unknown }).error ?? {}) as WireError;
  const secrets = secretsOf(d.provider);
  const message = typeof wire.message === 'string' ? wire.message : 'stream error';
  const kind = wire.code === 'rate_limit_exceeded' ? 'rate_limited' : 'server';
  return new GatewayError(kind, `Upstream ${d.id} sent an error mid-stream: ${secrets.scrubUntrusted(message)}`, {
    code: secrets.identifier(wire.code) ?? 'upstream_stream_error',
    deployment: d.id,
  });
}

/** A Responses API `error` or `response.failed` event as a GatewayError. */
export function responsesStreamError(name: string, data: string, d: Deployment): GatewayError {
  const error = name === 'error' ? data : JSON.stringify(safeParse(data)?.response?.error ?? {});
  return openAIStreamError(`{"error":${error}}`, d) ?? malformed(d, 'a failed response');
}

function safeParse(text: string): { response?: { error?: unknown } } | undefined {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
