/**
 * The resolved, frozen configuration every other module reads. Property names follow the YAML keys
 * one to one (snake_case), so the README's config reference maps directly onto this type.
 * Defaults are filled in and per-model overrides merged by the loader; nothing here is optional
 * unless it is genuinely absent-able.
 */

export interface Timeouts {
  /** TCP + TLS handshake to the upstream. */
  connect_ms: number;
  /** From sending the request to the first byte of the response body (for streams: the first chunk). */
  first_byte_ms: number;
  /** Longest silence allowed between two body chunks once the body has started. */
  idle_ms: number;
  /** The whole request, all attempts included. */
  total_ms: number;
}

export interface RetryPolicy {
  /** Attempts per model in the chain (first try + retries across its deployments). */
  max_attempts: number;
  base_delay_ms: number;
  max_delay_ms: number;
  /** An upstream wait hint longer than this is not waited for: another deployment is tried instead. */
  max_retry_after_ms: number;
  /** Retries allowed per deployment as a fraction of its first attempts (Google SRE retry budget). */
  budget_ratio: number;
  /** How many fallback models a request may move on to. */
  max_fallbacks: number;
  /**
   * Upstream attempts one request may make in all: every deployment and fallback model, hedges and stream resumes
   * included (the requested model's value applies).
   */
  max_attempts_per_request: number;
  /**
   * Failovers (a request's attempt at another deployment of the same model after one failed) allowed per model as a
   * fraction of the model's requests, plus 10 per 10 s window, like the retry budget.
   */
  failover_budget_ratio: number;
}

export interface HealthPolicyConfig {
  /** Consecutive failures that open a deployment's circuit breaker. */
  failure_threshold: number;
  /** Or: this failure ratio over `window_s`, once `min_requests` outcomes are in the window. */
  failure_ratio: number;
  min_requests: number;
  window_s: number;
  /** How long an open breaker stays open before one probe request is let through. */
  cooldown_s: number;
  /**
   * Seconds between synthetic probes of each deployment (pipeline/probes.ts): the provider's cheapest call, whose
   * failure counts toward the breaker and whose success closes a half-open one. 0: no probes.
   */
  probe_interval_s: number;
}

/**
 * How a provider's deployments are probed: `models` an unbilled list-models request (where the family has one,
 * its default), `chat` a one-token chat completion (billed), `off` not at all.
 */
export const PROBE_MODES = ['off', 'models', 'chat'] as const;
export type ProbeMode = (typeof PROBE_MODES)[number];

/**
 * The balancing strategies, declared once: the schema accepts these names, routing/balance.ts implements each (its
 * switch is exhaustive over this type), and a test holds the README and docs/routing.md to the same list.
 */
export const STRATEGIES = ['weighted', 'least-busy', 'latency', 'priority'] as const;

export type Strategy = (typeof STRATEGIES)[number];

import type { ProviderType } from './provider-types.js';

export type { ProviderFamily, ProviderType } from './provider-types.js';

/** AWS credentials for SigV4 (Bedrock). */
export interface AwsCredentials {
  access_key_id: string;
  secret_access_key: string;
  session_token: string | undefined;
}

export interface ProviderConfig {
  /** The key under `providers:`. */
  name: string;
  type: ProviderType;
  api_key: string | undefined;
  /** Includes the version segment, e.g. `https://api.openai.com/v1`; no trailing slash. */
  base_url: string;
  /** Egress proxy for this provider (`http://host:port`); when absent HTTPS_PROXY/NO_PROXY apply. */
  proxy: string | undefined;
  /** Extra headers sent upstream on every request (e.g. `OpenAI-Organization`). */
  headers: Readonly<Record<string, string>>;
  /** Azure: the `api-version` query parameter; Anthropic: the `anthropic-version` header. */
  api_version: string | undefined;
  /** Bedrock: the AWS region (also names the default endpoint). */
  region: string | undefined;
  /** Bedrock: from the config, else from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN. */
  aws: Readonly<AwsCredentials> | undefined;
  /**
   * Whether this upstream continues a trailing assistant message (prefill), which mid-stream resume needs.
   * Defaults by type: anthropic yes; deepseek and mistral yes (their `prefix: true` flag); the rest no. On
   * bedrock the catalog decides per model when the config does not (Claude continues a prefill there).
   */
  supports_prefill: boolean;
  /** `supports_prefill` was given in the config (else it is the type's default, refined by the catalog). */
  supports_prefill_set: boolean;
  /** `probe` as configured; undefined: the family's default (`models` where it has a free list, else `off`). */
  probe?: ProbeMode | undefined;
}

export interface TargetConfig {
  /** Name of an entry in `providers`. */
  provider: string;
  /** Model name the upstream knows. */
  model: string;
  weight: number;
  /** Tier for the `priority` strategy: 1 is tried first. */
  priority: number;
  /** Overrides the catalog: the deployment's context window in tokens (prompt + output). */
  context_window: number | undefined;
  /** Overrides the catalog: the most output tokens the deployment produces. */
  max_output_tokens: number | undefined;
  /** Overrides the catalog: the most prompt tokens the deployment takes, when less than its window. */
  max_input_tokens: number | undefined;
  /** Overrides the catalog: USD per 1M tokens. */
  price: Readonly<Price> | undefined;
}

export interface Price {
  input: number;
  output: number;
  /** Cached prompt tokens, where the provider discounts them. */
  cached_input: number | undefined;
}

/** Request rewrites a model may opt into (or a client ask for with `x-lifeline-transforms`). */
/** The request transforms, declared once: the schema, the `x-lifeline-transforms` header and the docs use this list. */
export const TRANSFORMS = ['middle-out'] as const;
export type Transform = (typeof TRANSFORMS)[number];

/** Hedged first tokens: a second attempt when the first has produced no token by then. */
export interface HedgeConfig {
  /** Start the hedge after this long without a first token (also the fallback for `after_percentile`). */
  after_ms: number | undefined;
  /** Start it at this percentile of the model's recent times to first token (once 20 are known). */
  after_percentile: number | undefined;
}

export interface ModelConfig {
  /** The key under `models:` — what clients send as "model". */
  name: string;
  targets: readonly TargetConfig[];
  /** How requests are spread over `targets`. */
  strategy: Strategy;
  /** Other client-facing model names to try, in order, when this one fails. */
  fallbacks: readonly string[];
  /** Taken instead of `fallbacks` when the prompt does not fit the context window. */
  context_window_fallbacks: readonly string[];
  /** Taken instead of `fallbacks` when a content filter refuses the request. */
  content_policy_fallbacks: readonly string[];
  /** Global timeouts merged with the model's own `timeouts:`. */
  timeouts: Timeouts;
  /** Global retry policy merged with the model's own `retry:`. */
  retry: RetryPolicy;
  /** Streams only; absent = no hedging. */
  hedge: HedgeConfig | undefined;
  /** Applied to every request of this model when its prompt does not fit. */
  transforms: readonly Transform[];
  /** Largest request body for this model, in bytes (after decompression); only narrows `server.max_body_bytes`. */
  max_request_bytes: number | undefined;
}

export interface ServerConfig {
  host: string;
  port: number;
  /** Largest request body accepted, in bytes (default 32 MiB). */
  max_body_bytes: number;
  /** On SIGTERM/SIGINT, how long in-flight requests and streams may take to finish. */
  drain_timeout_ms: number;
  /** From a connection's first byte (or its opening, or the end of the previous request) to a request's full headers. */
  header_timeout_ms: number;
  /** From a request's headers to the end of its body, however slowly it trickles in; past it → 408. */
  body_timeout_ms: number;
  /** How long an idle keep-alive connection is kept between requests. */
  keep_alive_timeout_ms: number;
  /** Open client connections; one over it is answered 503 and closed. Absent: derived from the open-files limit. */
  max_connections?: number;
  /**
   * After an answer that closes the connection while the client is still sending its body (a 413, a 408), how
   * long and how many bytes the gateway goes on reading and discarding, so the client reads the answer instead of a
   * reset. 0 ms: close at once.
   */
  linger_ms: number;
  linger_bytes: number;
}

export interface StreamingConfig {
  /** While a committed stream waits on its upstream, a `: keep-alive` SSE comment goes out this often. */
  heartbeat_ms: number;
  /** Streams open at once; beyond it new stream requests get 503 with Retry-After. 0 = no limit. */
  max_concurrent: number;
  /** Continue a chat stream that fails after its first token on a prefill-capable deployment. */
  resume: boolean;
  /** How many times one stream may be resumed. */
  max_resumes: number;
  /** Answer text kept per stream for resuming, in characters; past it the stream can no longer be resumed. */
  resume_max_chars: number;
  /**
   * Hold a stream's status and headers until its first token (every failure then gets a real HTTP status).
   * Off: they go out as soon as an upstream accepts the stream (its 2xx); see DESIGN.md, "Commit on first token".
   */
  hold_headers: boolean;
  /**
   * The most one upstream stream event may hold (an SSE line or event, a Bedrock frame's payload), default 4 MiB.
   * Past it the attempt fails as a malformed upstream (`upstream_event_too_large`) instead of buffering on.
   */
  max_event_bytes: number;
}

export interface LoggingConfig {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** `json` (one JSON object a line) or `pretty` (for humans); unset: pretty when stdout is a terminal, else json. */
  format?: 'json' | 'pretty' | undefined;
  /** The config set `level` itself (not the default): library mode logs to stdout only then (see createGateway). */
  level_set?: boolean;
}

/** OpenTelemetry traces (observability/tracing.ts): off unless `otlp_endpoint` is set. */
export interface TracingConfig {
  /** The collector's OTLP/HTTP base URL; spans go to `<otlp_endpoint>/v1/traces` as JSON. Absent: no tracing. */
  otlp_endpoint?: string | undefined;
  service_name: string;
  /** Share of new traces recorded (a client's traceparent decides for its own trace). */
  sample_ratio: number;
  /** Send each upstream attempt's span context to the provider as `traceparent`. */
  forward_traceparent: boolean;
  /** One export to the collector, retries included; past it the batch is dropped (and counted). */
  export_timeout_ms: number;
}

export interface Config {
  server: ServerConfig;
  timeouts: Timeouts;
  retry: RetryPolicy;
  health: HealthPolicyConfig;
  streaming: StreamingConfig;
  logging: LoggingConfig;
  tracing: TracingConfig;
  providers: Readonly<Record<string, ProviderConfig>>;
  models: Readonly<Record<string, ModelConfig>>;
}
