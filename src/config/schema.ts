/**
 * The shape of the YAML as written by a person: every section strict, every default in one place.
 * Each schema carries its own error text (what was expected, what was found) so that a zod issue becomes a
 * line a user can act on without knowing zod; `schemaIssues` turns a ZodError into those lines.
 */
import { z } from 'zod';
import { type ConfigIssue, closestKey, showValue } from './errors.js';
import { type HealthPolicyConfig, type LoggingConfig, PROBE_MODES, type ProviderType, type RetryPolicy, STRATEGIES, type Strategy, type Timeouts, TRANSFORMS } from './types.js';

export { PROVIDER_TYPES } from './provider-types.js';
import { PROVIDER_TYPES } from './provider-types.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const satisfies readonly LoggingConfig['level'][];
export const LOG_FORMATS = ['json', 'pretty'] as const satisfies readonly NonNullable<LoggingConfig['format']>[];

export const DEFAULTS = {
  server: {
    host: '127.0.0.1',
    port: 4000,
    max_body_bytes: 32 * 1024 * 1024,
    drain_timeout_ms: 30_000,
    header_timeout_ms: 30_000,
    body_timeout_ms: 30_000,
    keep_alive_timeout_ms: 65_000,
    linger_ms: 5_000,
    linger_bytes: 64 * 1024 * 1024,
  },
  timeouts: { connect_ms: 5_000, first_byte_ms: 60_000, idle_ms: 60_000, total_ms: 600_000 } satisfies Timeouts,
  retry: {
    max_attempts: 3,
    base_delay_ms: 500,
    max_delay_ms: 8_000,
    max_retry_after_ms: 60_000,
    budget_ratio: 0.1,
    max_fallbacks: 3,
    max_attempts_per_request: 6,
    failover_budget_ratio: 0.1,
  } satisfies RetryPolicy,
  health: { failure_threshold: 5, failure_ratio: 0.5, min_requests: 10, window_s: 30, cooldown_s: 30, probe_interval_s: 60 } satisfies HealthPolicyConfig,
  strategy: 'weighted' satisfies Strategy,
  priority: 1,
  logging: { level: 'info' } satisfies LoggingConfig,
  weight: 1,
} as const;

// ---- error text -------------------------------------------------------------------------------------

function expected(what: string, input: unknown): string {
  return input === undefined ? `required (expected ${what})` : `expected ${what}, got ${showValue(input)}`;
}

/** An error callback for zod's `error` param that reports what was expected and what was found. */
function expecting(what: string) {
  return (issue: { input?: unknown }) => expected(what, issue.input);
}

// ---- building blocks --------------------------------------------------------------------------------

/**
 * A strict section. The "valid: …" text is picked up by `schemaIssues`, which emits one line per unknown key
 * (zod reports them all in one issue on the parent object).
 */
function section<T extends z.core.$ZodLooseShape>(shape: T) {
  const valid = `valid: ${Object.keys(shape).join(', ')}`;
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? valid : expected('a mapping', issue.input)),
  });
}

/**
 * A number that may also arrive as a string of digits: `${PORT:-4000}` interpolates to "4000", and that
 * is the one way to set a number from the environment.
 */
function numeric(what: string, pattern: RegExp, accept: (n: number) => boolean) {
  return z.union([z.number(), z.string()], { error: expecting(what) }).transform((input, ctx) => {
    const n = typeof input === 'string' && pattern.test(input.trim()) ? Number(input) : input;
    if (typeof n === 'number' && accept(n)) return n;
    ctx.issues.push({ code: 'custom', input, message: expected(what, input) });
    return z.NEVER;
  });
}

const positiveInteger = () => numeric('a positive integer', /^\d+$/, (n) => Number.isSafeInteger(n) && n > 0);
const port = () => numeric('a port number 0..65535 (0 = any free port)', /^\d+$/, (n) => Number.isInteger(n) && n >= 0 && n <= 65535);
const nonNegativeInteger = () => numeric('a whole number ≥ 0', /^\d+$/, (n) => Number.isSafeInteger(n) && n >= 0);
const fraction = () => numeric('a number from 0 to 1', /^\d+(\.\d+)?$/, (n) => Number.isFinite(n) && n >= 0 && n <= 1);
const positiveNumber = () => numeric('a positive number', /^\d+(\.\d+)?$/, (n) => Number.isFinite(n) && n > 0);

const nonEmptyString = (what = 'a non-empty string') => z.string({ error: expecting(what) }).min(1, { error: expecting(what) });

function oneOf<const T extends readonly [string, ...string[]]>(values: T, noun: string) {
  const valid = values.join(', ');
  return z.enum(values, {
    error: (issue) =>
      issue.input === undefined ? `required (valid: ${valid})` : `${showValue(issue.input)} is not ${noun} (valid: ${valid})`,
  });
}

// A proxy URL may carry credentials; an error message must not repeat them.
const redactUserinfo = (text: string) => text.replace(/\/\/[^/@]*@/, '//***@');

function isHttpUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
}

function httpUrl(what: string) {
  const message = (issue: { input?: unknown }) =>
    expected(what, typeof issue.input === 'string' ? redactUserinfo(issue.input) : issue.input);
  return z.string({ error: message }).refine(isHttpUrl, { error: message });
}

// The provider appends its path (`/chat/completions`) to base_url, so a query or fragment would end up in
// the wrong place.
const baseUrl = httpUrl('an http(s) URL such as https://api.openai.com/v1')
  .refine((text) => !URL.canParse(text) || (new URL(text).search === '' && new URL(text).hash === ''), {
    error: 'must not contain a query (?…) or fragment (#…): the provider appends its path to it',
  })
  .transform((url) => url.replace(/\/+$/, ''));

// RFC 9110 token: anything else is rejected by the HTTP client on every request, so catch it at load time.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const headers = z
  .record(z.string(), z.string({ error: 'expected a string (quote numbers: "123")' }), {
    error: expecting('a mapping of header name → value'),
  })
  .superRefine(
    (record, ctx) => {
      for (const [name, value] of Object.entries(record)) {
        if (!HEADER_NAME.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'not a valid HTTP header name' });
        else if (typeof value === 'string' && /[\r\n]/.test(value)) {
          ctx.addIssue({ code: 'custom', path: [name], message: 'header value must not contain line breaks' });
        }
      }
    },
    // Run even when a value failed its own check, so a bad name is reported in the same pass.
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  );

// ---- sections ---------------------------------------------------------------------------------------

const ServerSchema = section({
  host: nonEmptyString('a host name or IP address').default(DEFAULTS.server.host),
  port: port().default(DEFAULTS.server.port),
  max_body_bytes: positiveInteger().default(DEFAULTS.server.max_body_bytes),
  drain_timeout_ms: positiveInteger().default(DEFAULTS.server.drain_timeout_ms),
  header_timeout_ms: positiveInteger().default(DEFAULTS.server.header_timeout_ms),
  body_timeout_ms: positiveInteger().default(DEFAULTS.server.body_timeout_ms),
  keep_alive_timeout_ms: positiveInteger().default(DEFAULTS.server.keep_alive_timeout_ms),
  // Absent: derived at startup from the soft open-files limit (see server/connections.ts).
  max_connections: positiveInteger().optional(),
  linger_ms: nonNegativeInteger().default(DEFAULTS.server.linger_ms),
  linger_bytes: nonNegativeInteger().default(DEFAULTS.server.linger_bytes),
});

const TimeoutsSchema = section({
  connect_ms: positiveInteger().default(DEFAULTS.timeouts.connect_ms),
  first_byte_ms: positiveInteger().default(DEFAULTS.timeouts.first_byte_ms),
  idle_ms: positiveInteger().default(DEFAULTS.timeouts.idle_ms),
  total_ms: positiveInteger().default(DEFAULTS.timeouts.total_ms),
});

const RetrySchema = section({
  max_attempts: positiveInteger().default(DEFAULTS.retry.max_attempts),
  base_delay_ms: positiveInteger().default(DEFAULTS.retry.base_delay_ms),
  max_delay_ms: positiveInteger().default(DEFAULTS.retry.max_delay_ms),
  max_retry_after_ms: nonNegativeInteger().default(DEFAULTS.retry.max_retry_after_ms),
  budget_ratio: fraction().default(DEFAULTS.retry.budget_ratio),
  max_fallbacks: nonNegativeInteger().default(DEFAULTS.retry.max_fallbacks),
  max_attempts_per_request: positiveInteger().default(DEFAULTS.retry.max_attempts_per_request),
  failover_budget_ratio: fraction().default(DEFAULTS.retry.failover_budget_ratio),
});

const HealthSchema = section({
  failure_threshold: positiveInteger().default(DEFAULTS.health.failure_threshold),
  failure_ratio: fraction().default(DEFAULTS.health.failure_ratio),
  min_requests: positiveInteger().default(DEFAULTS.health.min_requests),
  window_s: positiveInteger().default(DEFAULTS.health.window_s),
  cooldown_s: positiveNumber().default(DEFAULTS.health.cooldown_s),
  // 0 turns the synthetic probes off; fractions are for tests (pipeline/probes.ts has a floor of 0.05 s).
  probe_interval_s: numeric('a number of seconds ≥ 0 (0: no probes)', /^\d+(\.\d+)?$/, (n) => Number.isFinite(n) && n >= 0).default(
    DEFAULTS.health.probe_interval_s,
  ),
});

// Per-model overrides have no defaults of their own: an absent key means "use the global value".
const TimeoutOverridesSchema = section({
  connect_ms: positiveInteger().optional(),
  first_byte_ms: positiveInteger().optional(),
  idle_ms: positiveInteger().optional(),
  total_ms: positiveInteger().optional(),
});

const RetryOverridesSchema = section({
  max_attempts: positiveInteger().optional(),
  base_delay_ms: positiveInteger().optional(),
  max_delay_ms: positiveInteger().optional(),
  max_retry_after_ms: nonNegativeInteger().optional(),
  max_fallbacks: nonNegativeInteger().optional(),
  max_attempts_per_request: positiveInteger().optional(),
  // budget_ratio is global only: the budget belongs to a deployment, which several models may share.
  // failover_budget_ratio too: one setting for "failovers ≤ this share of traffic", like retries.
});

const StreamingSchema = section({
  heartbeat_ms: positiveInteger().default(15_000),
  max_concurrent: nonNegativeInteger().default(0),
  resume: z.boolean({ error: expecting('true or false') }).default(true),
  max_resumes: nonNegativeInteger().default(2),
  resume_max_chars: positiveInteger().default(1024 * 1024),
  hold_headers: z.boolean({ error: expecting('true or false') }).default(false),
  max_event_bytes: positiveInteger().default(4 * 1024 * 1024),
});

const percentile = () => numeric('a percentile from 1 to 99.9', /^\d+(\.\d+)?$/, (n) => Number.isFinite(n) && n >= 1 && n <= 99.9);

const HedgeSchema = section({
  after_ms: positiveInteger().optional(),
  after_percentile: percentile().optional(),
}).refine((h) => h.after_ms !== undefined || h.after_percentile !== undefined, {
  error: 'needs after_ms (e.g. { after_ms: 500 }) or after_percentile (e.g. { after_percentile: 95 })',
});

const LoggingSchema = section({
  level: oneOf(LOG_LEVELS, 'a log level').default(DEFAULTS.logging.level),
  format: oneOf(LOG_FORMATS, 'a log format').optional(),
});

// Off unless otlp_endpoint is set (observability/tracing.ts).
const TracingSchema = section({
  // Empty is off, as absent is: `otlp_endpoint: ${OTEL_ENDPOINT:-}` turns tracing on from the environment.
  otlp_endpoint: z.preprocess(
    (value) => (value === '' ? undefined : value),
    httpUrl('an http(s) URL of an OTLP/HTTP collector, e.g. http://127.0.0.1:4318')
      .transform((url) => url.replace(/\/+$/, ''))
      .optional(),
  ),
  service_name: nonEmptyString('a service name').default('lifeline'),
  sample_ratio: fraction().default(1),
  forward_traceparent: z.boolean({ error: expecting('true or false') }).default(false),
  export_timeout_ms: positiveInteger().default(10_000),
});

const PROVIDER_TYPE_NAMES = Object.keys(PROVIDER_TYPES) as [ProviderType, ...ProviderType[]];

const ProviderSchema = section({
  type: oneOf(PROVIDER_TYPE_NAMES, 'a provider type'),
  // Never echo the value: a key pasted into the wrong shape must not end up in a terminal or a log.
  api_key: z.string({ error: 'expected a string' }).optional(),
  base_url: baseUrl.optional(),
  proxy: httpUrl('an http(s) proxy URL such as http://proxy.internal:3128').optional(),
  headers: headers.default({}),
  api_version: nonEmptyString('a version string, e.g. 2024-10-21').optional(),
  region: z.string({ error: expecting('an AWS region such as us-east-1') }).regex(/^[a-z]{2}(-[a-z]+)+-\d$/, {
    error: (issue) => expected('an AWS region such as us-east-1', issue.input),
  }).optional(),
  access_key_id: z.string({ error: 'expected a string' }).optional(),
  secret_access_key: z.string({ error: 'expected a string' }).optional(),
  session_token: z.string({ error: 'expected a string' }).optional(),
  supports_prefill: z.boolean({ error: expecting('true or false') }).optional(),
  probe: oneOf(PROBE_MODES, 'a probe mode').optional(),
});

const nonNegativeNumber = () => numeric('a number ≥ 0', /^\d+(\.\d+)?$/, (n) => Number.isFinite(n) && n >= 0);

const PriceSchema = section({
  input: nonNegativeNumber(),
  output: nonNegativeNumber(),
  cached_input: nonNegativeNumber().optional(),
});

const TargetSchema = section({
  provider: nonEmptyString('the name of an entry under providers'),
  model: nonEmptyString('the model name the upstream knows, e.g. gpt-4o'),
  weight: positiveNumber().default(DEFAULTS.weight),
  priority: positiveInteger().default(DEFAULTS.priority),
  context_window: positiveInteger().optional(),
  max_output_tokens: positiveInteger().optional(),
  max_input_tokens: positiveInteger().optional(),
  price: PriceSchema.optional(),
});

const modelList = () => z.array(nonEmptyString('a model name'), { error: expecting('a list of model names') }).default([]);

const ModelSchema = section({
  targets: z
    .array(TargetSchema, { error: expecting('a list of targets like [{ provider: openai, model: gpt-4o }]') })
    .min(1, { error: 'at least one target is required, e.g. [{ provider: openai, model: gpt-4o }]' }),
  strategy: oneOf(STRATEGIES, 'a balancing strategy').default(DEFAULTS.strategy),
  fallbacks: modelList(),
  context_window_fallbacks: modelList(),
  content_policy_fallbacks: modelList(),
  timeouts: TimeoutOverridesSchema.optional(),
  retry: RetryOverridesSchema.optional(),
  hedge: HedgeSchema.optional(),
  transforms: z.array(oneOf(TRANSFORMS, 'a transform'), { error: expecting('a list of transforms, e.g. [middle-out]') }).default([]),
  max_request_bytes: positiveInteger().optional(),
});

const NEED_PROVIDERS =
  'at least one provider is required, e.g. providers: { openai: { type: openai, api_key: ${OPENAI_API_KEY} } }';
const NEED_MODELS =
  'at least one model is required, e.g. models: { gpt-4o: { targets: [{ provider: openai, model: gpt-4o }] } }';

/** A mapping that must have at least one entry; absent, empty and wrong-typed all get the same advice. */
function nonEmptyRecord<T extends z.core.SomeType>(value: T, advice: string) {
  return z
    .record(z.string(), value, {
      error: (issue) => (issue.input === undefined || issue.input === null ? advice : expected('a mapping', issue.input)),
    })
    .refine((record) => Object.keys(record).length > 0, { error: advice });
}

export const ConfigSchema = section({
  server: ServerSchema.prefault({}),
  timeouts: TimeoutsSchema.prefault({}),
  retry: RetrySchema.prefault({}),
  health: HealthSchema.prefault({}),
  streaming: StreamingSchema.prefault({}),
  logging: LoggingSchema.prefault({}),
  tracing: TracingSchema.prefault({}),
  providers: nonEmptyRecord(ProviderSchema, NEED_PROVIDERS),
  models: nonEmptyRecord(ModelSchema, NEED_MODELS),
});

/** What a library user may pass to `resolveConfig` (numbers may also be digit strings). */
export type ConfigInput = z.input<typeof ConfigSchema>;
/** The validated YAML with defaults filled, before names are attached and overrides merged. */
export type ParsedConfig = z.output<typeof ConfigSchema>;

/** Zod issues → config issues; every message was written by the schemas above. */
export function schemaIssues(error: z.ZodError): ConfigIssue[] {
  return error.issues.flatMap((issue): ConfigIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      // The message is `section`'s "valid: a, b, …": the keys a typo is matched against.
      const valid = issue.message.startsWith('valid: ') ? issue.message.slice('valid: '.length).split(', ') : [];
      return issue.keys.map((key) => ({ path: [...issue.path, key], message: unknownKey(key, valid, issue.message) }));
    }
    return [{ path: issue.path, message: issue.message }];
  });
}

/** `unknown key, did you mean connect_ms? (valid: …)`: the suggestion only when one key is close enough. */
function unknownKey(key: string, valid: readonly string[], list: string): string {
  const guess = closestKey(key, valid);
  return guess === undefined ? `unknown key (${list})` : `unknown key, did you mean ${guess}? (${list})`;
}
