/**
 * An upstream 404 means one of two things. Either the model (or Azure deployment) is unknown there: the upstream
 * says so, and its words are enough. Or the host does not serve the path the gateway called — nearly always a
 * base_url without its version segment (`http://host:8000` for a vLLM whose API lives under /v1) — and then the
 * upstream's words ("Invalid URL", "Not Found", an HTML page) say neither which URL nor what to fix. That second
 * kind gets both: the URL called, as scheme, host and path only (a query may hold a key, the userinfo a password),
 * and which setting to check. Pure.
 */
import { PROVIDER_TYPES } from '../../config/provider-types.js';
import { GatewayError } from '../../errors.js';
import { secretsOf } from '../../secrets.js';
import { header } from '../../resilience/retry-hints.js';
import type { Deployment, Headers, UpstreamRequest } from '../../types.js';

/** The upstream names the model or deployment as what it does not know. */
const MODEL_WORDS = /model|deployment|ResourceNotFound/i;

/** `error` as classified, or, for a 404 about the path rather than the model, a copy that says what to check. */
export function explainNotFound(
  error: GatewayError,
  request: UpstreamRequest,
  status: number,
  headers: Headers,
  bodyText: string,
  d: Deployment,
): GatewayError {
  if (status !== 404 || error.kind !== 'not_found' || namesTheModel(bodyText, headers)) return error;
  const called = shownUrl(request.url, d);
  if (called === undefined) return error;
  const message = `${error.message.replace(/[.\s]+$/, '')}. The gateway called ${request.method} ${called}; ${baseUrlAdvice(d)}.`;
  return new GatewayError(error.kind, message, {
    status: error.status,
    code: error.code,
    param: error.param,
    retryable: error.retryable,
    retryAfterMs: error.retryAfterMs,
    upstreamRequestId: error.upstreamRequestId,
    upstreamStatus: error.upstreamStatus,
    deployment: error.deployment,
    cause: error.cause,
  });
}

/** The error body's own fields (not the path it may echo) mention a model or deployment. */
function namesTheModel(bodyText: string, headers: Headers): boolean {
  if (MODEL_WORDS.test(header(headers, 'x-amzn-errortype') ?? '')) return true;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    return false; // an HTML page or plain text: a web server's "not found", about the path
  }
  if (Array.isArray(parsed)) parsed = parsed[0];
  if (parsed === null || typeof parsed !== 'object') return false;
  const error = (parsed as { error?: unknown }).error;
  const words: string[] = [];
  for (const source of [parsed, error]) {
    if (source === null || typeof source !== 'object') continue;
    for (const field of ['message', 'code', 'type', 'status', '__type', 'detail']) {
      const value = (source as Record<string, unknown>)[field];
      if (typeof value === 'string') words.push(value);
    }
  }
  // "Invalid URL (POST /v1/models/x:generateContent)": a path echoed in the message is not the model's name.
  return MODEL_WORDS.test(words.join(' ').replace(/\/\S*/g, ' '));
}

/** Scheme, host and path of `url`; undefined when it does not parse. */
function shownUrl(url: string, d: Deployment): string | undefined {
  if (!URL.canParse(url)) return undefined;
  const { protocol, host, pathname } = new URL(url);
  return secretsOf(d.provider).scrubUntrusted(`${protocol}//${host}${pathname}`);
}

function baseUrlAdvice(d: Deployment): string {
  const { name, type, base_url } = d.provider;
  const check = `check the base_url of provider "${name}"`;
  const info = PROVIDER_TYPES[type];
  if (info.family === 'azure') return `${check}: for type azure it is the resource's endpoint, with no path (e.g. https://NAME.openai.azure.com)`;
  if (info.family === 'bedrock') {
    return `${check}: for type bedrock it is the runtime endpoint, with no path (e.g. https://bedrock-runtime.us-east-1.amazonaws.com), or leave it out and set region`;
  }
  const example: string | undefined = info.default_base_url;
  const suffix = example === undefined ? '' : new URL(example).pathname.replace(/\/+$/, '');
  const path = URL.canParse(base_url) ? new URL(base_url).pathname.replace(/\/+$/, '') : '';
  if (suffix !== '' && !path.endsWith(suffix)) return `${check}: for type ${type} it usually ends in ${suffix} (e.g. ${example})`;
  return `${check}, and that the host serves this API${example === undefined ? '' : ` (type ${type} defaults to ${example})`}`;
}
