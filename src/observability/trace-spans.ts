/**
 * The spans of one request: a server span, and a client span per upstream attempt under it (tracing.ts makes the
 * provider they go to). Free of pipeline types: the pipeline calls `RequestTrace.attempt` and `AttemptTrace.end`
 * with plain facts. Attribute names follow the OpenTelemetry HTTP and GenAI semantic conventions (the GenAI ones are
 * still incubating, so they are spelled here rather than imported); the rest are `lifeline.*`.
 */
import {
  type Attributes,
  type Context,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import type { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ATTR_ERROR_TYPE, ATTR_HTTP_RESPONSE_STATUS_CODE } from '@opentelemetry/semantic-conventions';
import type { Deployment, Operation } from '../types.js';

/** Why an attempt was made: the request's first, the same deployment again, another one, a fallback model's, ... */
export type AttemptKind = 'first' | 'retry' | 'failover' | 'fallback' | 'hedge' | 'resume';

export interface AttemptStart {
  kind: AttemptKind;
  deployment: Deployment;
  /** The gateway model the attempt serves (a fallback's own name). */
  model: string;
  op: Operation;
  /** 1-based, across the whole request. */
  number: number;
  stream: boolean;
  /** Backoff or Retry-After wait spent before it. */
  waitedMs?: number | undefined;
}

/** What an attempt's record says once it has settled (the pipeline's AttemptRecord has these fields). */
export interface AttemptFacts {
  status?: number | undefined;
  /** Its error kind, or `hedge_lost`; undefined when it answered. */
  kind?: string | undefined;
  upstreamRequestId?: string | undefined;
  /** To its answer (JSON) or its first token (stream). */
  ms: number;
}

export interface AttemptEnd {
  /** A committed stream that failed after its first token (its record still says it answered). */
  error?: { kind: string } | undefined;
  /** The request had ended (its client left, its deadline passed, the gateway shut down). */
  cancelled?: boolean | undefined;
  /** The canonical (OpenAI) JSON answer: its model is read from it (a scan, not a parse). */
  answer?: string | undefined;
  /** The answer's usage, as the pipeline read it (no second parse here). */
  usage?: TokenUsage | undefined;
}

export interface AttemptTrace {
  /** This attempt's span context as a W3C `traceparent`, when `tracing.forward_traceparent` is on. */
  readonly traceparent: string | undefined;
  /** Ends the span; later calls do nothing (an attempt may be settled from two places). */
  end(facts: AttemptFacts, how?: AttemptEnd): void;
}

export interface RequestFacts {
  /** The status the request is logged with (499: the client left first). */
  status: number | undefined;
  requestId: string;
  model?: string | undefined;
  op?: Operation | undefined;
  result?: { deployment?: string; attempts?: readonly unknown[]; fallback?: string; resumes?: readonly unknown[]; usage?: TokenUsage } | undefined;
  attempts?: readonly unknown[] | undefined;
  error?: { kind: string; code?: string | undefined } | undefined;
}

export interface RequestTrace {
  /** A client span for one upstream attempt, a child of the request's span. */
  attempt(start: AttemptStart): AttemptTrace;
  /** Ends the request's span with what became of it. */
  end(facts: RequestFacts): void;
}

interface TokenUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
}

/** What the request spans share: the tracer and whether attempts forward their context. */
export interface SpanSource {
  readonly tracer: Tracer;
  readonly propagator: W3CTraceContextPropagator;
  readonly forward: boolean;
}

export const ATTR = {
  operation: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  system: 'gen_ai.system',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  attemptKind: 'lifeline.attempt.kind',
  attemptNumber: 'lifeline.attempt.number',
  attemptOutcome: 'lifeline.attempt.outcome',
  waitedMs: 'lifeline.attempt.waited_ms',
  firstTokenMs: 'lifeline.attempt.first_token_ms',
  deployment: 'lifeline.deployment',
  provider: 'lifeline.provider',
  model: 'lifeline.model',
  stream: 'lifeline.stream',
  upstreamRequestId: 'lifeline.upstream.request_id',
  requestId: 'lifeline.request_id',
  attempts: 'lifeline.attempts',
  fallback: 'lifeline.fallback',
  resumes: 'lifeline.resumes',
  errorCode: 'lifeline.error.code',
} as const;

/** `gen_ai.operation.name` per operation (the GenAI conventions' well-known values). */
const OPERATION: Record<Operation, string> = { chat: 'chat', embeddings: 'embeddings', responses: 'generate_content' };

/** `gen_ai.provider.name` where the conventions have a well-known value for the provider type; else the type. */
const PROVIDER_NAME: Readonly<Record<string, string>> = {
  gemini: 'gcp.gemini',
  azure: 'azure.ai.openai',
  bedrock: 'aws.bedrock',
  mistral: 'mistral_ai',
  xai: 'x_ai',
};

/** Answers larger than this are not parsed for their model and usage (an embeddings answer can be megabytes). */
/** How much of an answer's head (and tail) is scanned for its model. */
const MODEL_SCAN = 1024;

export class RequestSpan implements RequestTrace {
  private readonly parent: Context;
  /** The JSON answer's model and usage (its attempt read them), for the request's span. */
  private answered: { model?: string; usage?: TokenUsage } | undefined;

  constructor(
    private readonly source: SpanSource,
    private readonly span: Span,
  ) {
    this.parent = trace.setSpan(ROOT_CONTEXT, span);
  }

  attempt(start: AttemptStart): AttemptTrace {
    const recording = this.span.isRecording();
    const name = `${OPERATION[start.op]} ${start.deployment.model}`;
    const span = this.source.tracer.startSpan(name, { kind: SpanKind.CLIENT, ...(recording ? { attributes: attemptAttributes(start) } : {}) }, this.parent);
    let traceparent: string | undefined;
    if (this.source.forward) {
      const carrier: Record<string, string> = {};
      this.source.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
      traceparent = carrier.traceparent;
    }
    return new AttemptSpan(span, traceparent, start.stream, (answered) => {
      this.answered = answered;
    });
  }

  end(facts: RequestFacts): void {
    const span = this.span;
    if (span.isRecording()) {
      const attributes: Attributes = { [ATTR.requestId]: facts.requestId };
      if (facts.status !== undefined) attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = facts.status;
      if (facts.model !== undefined) attributes[ATTR.requestModel] = facts.model;
      if (facts.op !== undefined && facts.model !== undefined) attributes[ATTR.operation] = OPERATION[facts.op];
      const result = facts.result;
      const attempts = result?.attempts ?? facts.attempts;
      if (attempts) attributes[ATTR.attempts] = attempts.length;
      if (result?.deployment) attributes[ATTR.deployment] = result.deployment;
      if (result?.fallback) attributes[ATTR.fallback] = result.fallback;
      if (result?.resumes) attributes[ATTR.resumes] = result.resumes.length;
      if (this.answered?.model) attributes[ATTR.responseModel] = this.answered.model;
      setUsage(attributes, result?.usage ?? this.answered?.usage);
      if (facts.error) {
        attributes[ATTR_ERROR_TYPE] = facts.error.kind;
        if (facts.error.code) attributes[ATTR.errorCode] = facts.error.code;
      }
      span.setAttributes(attributes);
      // A server span is an error for a 5xx only (OpenTelemetry's HTTP conventions): a 4xx is the client's.
      if (facts.status !== undefined && facts.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: facts.error?.kind ?? String(facts.status) });
    }
    span.end();
  }
}

class AttemptSpan implements AttemptTrace {
  private ended = false;

  constructor(
    private readonly span: Span,
    readonly traceparent: string | undefined,
    private readonly stream: boolean,
    private readonly onAnswer: (answered: { model?: string; usage?: TokenUsage }) => void,
  ) {}

  end(facts: AttemptFacts, how: AttemptEnd = {}): void {
    if (this.ended) return;
    this.ended = true;
    const span = this.span;
    if (span.isRecording()) {
      const attributes: Attributes = {};
      if (facts.status !== undefined) attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = facts.status;
      if (facts.upstreamRequestId) attributes[ATTR.upstreamRequestId] = facts.upstreamRequestId;
      const kind = how.error?.kind ?? facts.kind;
      const outcome = attemptOutcome(kind, how.cancelled === true);
      attributes[ATTR.attemptOutcome] = outcome;
      if (outcome === 'error') attributes[ATTR_ERROR_TYPE] = kind as string;
      if (this.stream && facts.kind === undefined) attributes[ATTR.firstTokenMs] = facts.ms;
      if (how.answer !== undefined) this.answer(attributes, how.answer, how.usage);
      span.setAttributes(attributes);
      if (outcome === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message: kind });
    }
    span.end();
  }

  private answer(attributes: Attributes, text: string, usage: TokenUsage | undefined): void {
    const model = answerModel(text);
    const answered = { ...(model ? { model } : {}), ...(usage ? { usage } : {}) };
    if (model) attributes[ATTR.responseModel] = model;
    setUsage(attributes, usage);
    this.onAnswer(answered);
  }
}

/** ok, error, hedge_lost, or cancelled (the request ended under it: its client, its deadline, a shutdown). */
function attemptOutcome(kind: string | undefined, cancelled: boolean): 'ok' | 'error' | 'hedge_lost' | 'cancelled' {
  if (kind === 'hedge_lost') return 'hedge_lost';
  if (cancelled || kind === 'cancelled') return 'cancelled';
  return kind === undefined ? 'ok' : 'error';
}

function attemptAttributes(start: AttemptStart): Attributes {
  const d = start.deployment;
  const provider = PROVIDER_NAME[d.provider.type] ?? d.provider.type;
  const attributes: Attributes = {
    [ATTR.operation]: OPERATION[start.op],
    [ATTR.providerName]: provider,
    [ATTR.system]: provider,
    [ATTR.requestModel]: d.model,
    [ATTR.attemptKind]: start.kind,
    [ATTR.attemptNumber]: start.number,
    [ATTR.deployment]: d.id,
    [ATTR.provider]: d.provider.name,
    [ATTR.model]: start.model,
    [ATTR.stream]: start.stream,
  };
  if (start.waitedMs) attributes[ATTR.waitedMs] = start.waitedMs;
  return attributes;
}

function setUsage(attributes: Attributes, usage: TokenUsage | undefined): void {
  if (typeof usage?.prompt_tokens === 'number') attributes[ATTR.inputTokens] = usage.prompt_tokens;
  if (typeof usage?.completion_tokens === 'number') attributes[ATTR.outputTokens] = usage.completion_tokens;
}

const MODEL_KEY = /"model"\s*:\s*"([^"\\]{1,256})"/;

/**
 * The `model` of a canonical JSON answer without parsing it: the first `"model": "…"` key in its head (chat answers
 * put it before the choices), else in its tail (embeddings put it after the data). A `"model"` inside a string of
 * the answer cannot match: its quotes are escaped there.
 */
export function answerModel(text: string): string | undefined {
  const head = MODEL_KEY.exec(text.length > MODEL_SCAN ? text.slice(0, MODEL_SCAN) : text);
  if (head) return head[1];
  return text.length > MODEL_SCAN ? MODEL_KEY.exec(text.slice(-MODEL_SCAN))?.[1] : undefined;
}
