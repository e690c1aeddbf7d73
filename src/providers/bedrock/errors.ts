/**
 * Bedrock errors → GatewayError. Bedrock (AWS restJson1) names the error type in the `x-amzn-errortype` header
 * (`ThrottlingException:http://internal.amazon.com/coral/…`) with `{"message": …}` as the body; streams send the
 * same types camel-cased as exception frames (`throttlingException`). Pure.
 */
import type { ErrorKind } from '../../errors.js';
import { GatewayError } from '../../errors.js';
import { header, retryHintMs } from '../../resilience/retry-hints.js';
import { secretsOf } from '../../secrets.js';
import type { Deployment, Headers } from '../../types.js';
import { clientStatus, firstHeader, kindForStatus, retryableHint, shownMessage } from '../shared/errors.js';

/** By error type, lower-cased so the HTTP (`ThrottlingException`) and stream (`throttlingException`) forms meet. */
const KIND_BY_TYPE: Record<string, ErrorKind> = {
  throttlingexception: 'rate_limited',
  servicequotaexceededexception: 'rate_limited',
  serviceunavailableexception: 'overloaded',
  modelnotreadyexception: 'overloaded',
  modeltimeoutexception: 'timeout',
  internalserverexception: 'server',
  modelstreamerrorexception: 'server',
  modelerrorexception: 'server',
  validationexception: 'bad_request',
  accessdeniedexception: 'auth',
  unrecognizedclientexception: 'auth',
  invalidsignatureexception: 'auth',
  incompletesignatureexception: 'auth',
  expiredtokenexception: 'auth',
  missingauthenticationtokenexception: 'auth',
  resourcenotfoundexception: 'not_found',
};

/** Bedrock's words for a prompt that does not fit: "Input is too long for requested model.", "…exceeds the context…". */
const CONTEXT_RE =
  /(input|prompt) is too long|too long for (the )?requested model|exceeds? (the )?(model'?s? )?(maximum )?context|context (window|length)|too many (input )?tokens/i;


/** `ThrottlingException:http://internal.amazon.com/…` → `ThrottlingException`; also `aws.protocols#…`-style prefixes. */
export function awsErrorType(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const name = value.split(':')[0]!.split('#').pop()!.trim();
  return name === '' ? undefined : name;
}

export function kindForAwsError(type: string | undefined, status: number, message: string): ErrorKind {
  const key = type?.toLowerCase();
  const byType = key !== undefined && Object.hasOwn(KIND_BY_TYPE, key) ? KIND_BY_TYPE[key] : undefined;
  const kind = byType ?? kindForStatus(status, '', message);
  if (kind === 'bad_request' && CONTEXT_RE.test(message)) return 'context_length';
  return kind;
}

function readBody(bodyText: string): { message: string; type: string | undefined } {
  try {
    const parsed = JSON.parse(bodyText) as Record<string, unknown>;
    if (parsed && typeof parsed === 'object') {
      const message = parsed.message ?? parsed.Message;
      const type = parsed.__type ?? parsed.code;
      return { message: typeof message === 'string' ? message : '', type: typeof type === 'string' ? type : undefined };
    }
  } catch {
    // An HTML page from a proxy, say: the status alone classifies it.
  }
  return { message: '', type: undefined };
}

/**
 * Signature errors echo the canonical request and the access key id: an auth failure's message is never passed on.
 * Every part of the AWS credentials (and the api_key, if any), whole or in pieces, is the provider's secrets.
 */
function describe(kind: ErrorKind, message: string, d: Deployment): string {
  return shownMessage(kind, message, d, 'AWS credentials');
}

const REQUEST_ID_HEADERS = ['x-amzn-requestid'];

/** The upstream's request id: AWS's `x-amzn-requestid`. */
export function bedrockRequestId(headers: Headers): string | undefined {
  return firstHeader(headers, REQUEST_ID_HEADERS);
}

export function classifyBedrockError(status: number, headers: Headers, bodyText: string, d: Deployment): GatewayError {
  const body = readBody(bodyText);
  const secrets = secretsOf(d.provider);
  // The error type is shown (code, message) only when it is a plain name: it is upstream text like the rest.
  const rawType = awsErrorType(header(headers, 'x-amzn-errortype')) ?? awsErrorType(body.type);
  const type = secrets.identifier(rawType);
  const kind = kindForAwsError(rawType, status, body.message);
  const retryable = retryableHint(headers, kind);
  return new GatewayError(kind, `Upstream ${d.id} answered ${status}${type ? ` ${type}` : ''}: ${describe(kind, body.message, d)}`, {
    status: clientStatus(kind, status),
    code: type,
    ...(retryable === undefined ? {} : { retryable }),
    retryAfterMs: retryHintMs(headers),
    upstreamRequestId: secrets.requestId(bedrockRequestId(headers)),
    upstreamStatus: status,
    deployment: d.id,
  });
}

/** An exception frame in a ConverseStream (`:exception-type` + `{"message": …}`) as a GatewayError. */
export function bedrockStreamError(rawType: string, data: string, d: Deployment): GatewayError {
  const { message } = readBody(data);
  const kind = kindForAwsError(rawType, 500, message);
  const type = secretsOf(d.provider).identifier(rawType);
  return new GatewayError(kind, `Upstream ${d.id} sent ${type ?? 'an exception'} mid-stream: ${describe(kind, message, d)}`, {
    code: type ?? 'upstream_stream_error',
    deployment: d.id,
  });
}
