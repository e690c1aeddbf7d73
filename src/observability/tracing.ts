/**
 * OpenTelemetry traces, off unless `tracing.otlp_endpoint` is set. One tracer provider per gateway, never the
 * global one (a process may run several gateways, as the tests do), and no global context manager or propagator:
 * each request's span is handed down explicitly (trace-spans.ts). Spans are batched and exported as OTLP/HTTP JSON
 * to `<otlp_endpoint>/v1/traces`, in the background: the collector never slows or fails a request. When it is down
 * or slow, an export gives up after `export_timeout_ms` (the exporter's own retries included), its spans are
 * dropped and counted (`lifeline_trace_export_failures_total`, `lifeline_trace_spans_dropped_total`), and one
 * warning is logged until an export succeeds again; past the batch queue (2048 spans) new spans are dropped.
 */
import { readFileSync } from 'node:fs';
import { defaultTextMapGetter, ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_ROUTE, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION, ATTR_URL_PATH } from '@opentelemetry/semantic-conventions';
import { Counter, type Registry } from 'prom-client';
import type { TracingConfig } from '../config/types.js';
import type { Logger } from './logger.js';
import { RequestSpan, type RequestTrace, type SpanSource } from './trace-spans.js';

export type { AttemptEnd, AttemptFacts, AttemptKind, AttemptStart, AttemptTrace, RequestFacts, RequestTrace } from './trace-spans.js';

export interface TracingDeps {
  logger: Logger;
  /** The gateway's metrics registry: the export failure counters are registered on it (once per registry). */
  registry: Registry;
}

/** A gateway's tracer provider, from `createTracing`; `shutdown` flushes what is buffered. */
export class Tracing implements SpanSource {
  readonly tracer;
  readonly propagator = new W3CTraceContextPropagator();
  readonly forward: boolean;
  private readonly provider: BasicTracerProvider;
  private closing: Promise<void> | undefined;

  constructor(
    readonly config: TracingConfig & { otlp_endpoint: string },
    deps: TracingDeps,
  ) {
    this.forward = config.forward_traceparent;
    const url = tracesUrl(config.otlp_endpoint);
    const exporter = new CountingExporter(new OTLPTraceExporter({ url, timeoutMillis: config.export_timeout_ms }), exportReporter(url, deps));
    this.provider = new BasicTracerProvider({
      resource: defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.service_name, [ATTR_SERVICE_VERSION]: VERSION })),
      // A client's sampled traceparent is honoured; a new trace is recorded at `sample_ratio`.
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sample_ratio) }),
      spanProcessors: [new BatchSpanProcessor(exporter, { exportTimeoutMillis: config.export_timeout_ms + SLACK_MS })],
    });
    this.tracer = this.provider.getTracer('lifeline', VERSION);
  }

  /**
   * The server span of one request, continuing the client's `traceparent` when it sent one (W3C trace context).
   * `route` is the endpoint's path when the request matched one (a span name must not carry arbitrary paths).
   * Undefined when the request is not sampled and nothing needs its context: its attempts then cost nothing.
   */
  request(method: string, route: string | undefined, path: string, headers: Readonly<Record<string, string | string[] | undefined>>): RequestTrace | undefined {
    const parent = this.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    const attributes = { [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_URL_PATH]: path, ...(route ? { [ATTR_HTTP_ROUTE]: route } : {}) };
    const span = this.tracer.startSpan(route ? `${method} ${route}` : method, { kind: SpanKind.SERVER, attributes }, parent);
    if (!span.isRecording() && !this.forward) return undefined;
    return new RequestSpan(this, span);
  }

  /** Exports every ended span now (the tests' way to wait for them); a failed export is counted, not thrown. */
  forceFlush(): Promise<void> {
    return this.provider.forceFlush().catch(() => undefined);
  }

  /** Flushes and stops, within `export_timeout_ms` (and a little): a dead collector does not hold a shutdown. */
  shutdown(): Promise<void> {
    this.closing ??= bounded(
      this.provider.shutdown().catch(() => undefined),
      this.config.export_timeout_ms + SLACK_MS,
    );
    return this.closing;
  }
}

/** The gateway's tracing for this config: undefined (off, and free on the request path) without an endpoint. */
export function createTracing(config: TracingConfig, deps: TracingDeps): Tracing | undefined {
  const endpoint = config.otlp_endpoint;
  return endpoint ? new Tracing({ ...config, otlp_endpoint: endpoint }, deps) : undefined;
}

/** OTLP/HTTP's traces path under the collector's base URL (kept when the endpoint already names it). */
export function tracesUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, '');
  return base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
}

const SLACK_MS = 1000;

const PACKAGE = 'lifeline-gateway';
const VERSION = readVersion();

function readVersion(): string {
  // From src/observability/ or dist/src/observability/: the package's own package.json.
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === PACKAGE && pkg.version) return pkg.version;
    } catch {
      // Not there: the next place, else no version (it is a resource attribute, nothing more).
    }
  }
  return 'unknown';
}

function bounded(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}

/** Counts each export's outcome; logs a warning when exports start failing and a line when they recover. */
function exportReporter(url: string, { logger, registry }: TracingDeps): (ok: boolean, spans: number, error: Error | undefined) => void {
  const failures = counter(registry, 'lifeline_trace_export_failures_total', 'Span exports to the OTLP collector that failed (its spans are dropped)');
  const dropped = counter(registry, 'lifeline_trace_spans_dropped_total', 'Spans dropped because their export to the OTLP collector failed');
  let failing = false;
  return (ok, spans, error) => {
    if (ok) {
      if (failing) logger.info({ collector: url }, 'trace export recovered');
      failing = false;
      return;
    }
    failures.inc();
    dropped.inc(spans);
    if (!failing) logger.warn({ collector: url, err: error?.message }, 'trace export failed: spans are dropped until the collector answers');
    failing = true;
  };
}

function counter(registry: Registry, name: string, help: string): Counter {
  // A reload that changes `tracing` makes a new provider on the same registry: the counters carry on.
  const existing = registry.getSingleMetric(name);
  return existing instanceof Counter ? existing : new Counter({ name, help, registers: [registry] });
}

/** The OTLP exporter, with each export's outcome reported. */
class CountingExporter implements SpanExporter {
  constructor(
    private readonly inner: OTLPTraceExporter,
    private readonly report: (ok: boolean, spans: number, error: Error | undefined) => void,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      this.report(result.code === ExportResultCode.SUCCESS, spans.length, result.error);
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
}
