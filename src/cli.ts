#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { catalogJson, configJson, formatCatalog, formatConfigReport, toJson } from './accounting/report.js';
import { ConfigError, describeConfig, loadConfigFile } from './config/index.js';
import type { Config } from './config/types.js';
import { FAULT_PRESETS, faultPreset, startMock, type FaultPlan } from './mock/index.js';
import { startServer } from './server/serve.js';
import { watchFile } from './server/watch.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function int(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number, got "${value}"`);
    return n;
  };
}

function ratio(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`must be between 0 and 1, got "${value}"`);
  return n;
}

function configPath(path: string | undefined): string {
  const file = path ?? process.env.LIFELINE_CONFIG;
  if (!file) fail(`no config file: pass --config FILE or set LIFELINE_CONFIG.\n${tryItHint()}`);
  return file;
}

/**
 * A way to try the gateway with no keys that works as written: examples/mock.yaml needs only `lifeline mock` on
 * its default port. The path is the shipped file's, as seen from here, so it is right in a clone and in an app
 * that installed the package alike.
 */
function tryItHint(): string {
  const example = fileURLToPath(new URL('../examples/mock.yaml', import.meta.url));
  const shown = relative(process.cwd(), example);
  const path = shown.startsWith('..') || isAbsolute(shown) ? example : shown;
  return [
    'To try it with no API keys, run the mock provider and then, in a second terminal, the gateway on a config that uses it:',
    '  npx lifeline mock',
    `  npx lifeline serve --config ${path}`,
    'then send OpenAI-style requests to http://127.0.0.1:4000/v1 (README: "Quick start").',
  ].join('\n');
}

function loadOrExit(path: string | undefined): Config {
  const file = configPath(path);
  try {
    return loadConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

function fail(message: string): never {
  process.stderr.write(`lifeline: ${message}\n`);
  process.exit(2);
}

function withOverrides(config: Config, port?: number, host?: string): Config {
  if (port === undefined && host === undefined) return config;
  return Object.freeze({ ...config, server: Object.freeze({ ...config.server, port: port ?? config.server.port, host: host ?? config.server.host }) });
}

const program = new Command()
  .name('lifeline')
  .description('An LLM gateway that keeps answering: retries, failover and streams that resume after a cut, in front of LLM providers.')
  .version(VERSION);

program
  .command('serve')
  .description('Run the gateway: an OpenAI-compatible HTTP API on --host:--port')
  .option('-c, --config <file>', 'YAML config file (default: $LIFELINE_CONFIG)')
  .option('-p, --port <n>', 'listen port (overrides server.port)', int('--port'))
  .option('-H, --host <host>', 'listen address (overrides server.host)')
  .option('--watch', 'reload the config when its file changes (as SIGHUP and POST /admin/reload do)')
  .action(async (opts: { config?: string; port?: number; host?: string; watch?: boolean }) => {
    const file = configPath(opts.config);
    const config = withOverrides(loadOrExit(file), opts.port, opts.host);
    const server = await startServer(config, { reloadFrom: () => withOverrides(loadConfigFile(file), opts.port, opts.host) });
    process.stderr.write(`lifeline listening on ${server.url} (${Object.keys(config.models).length} models)\n`);
    // A reload: new requests get the file's config if it is valid; a bad file is logged and changes nothing.
    process.on('SIGHUP', () => server.reload());
    if (opts.watch) {
      watchFile(file, () => server.reload(), {
        onMissing: (err) => server.logger.warn({ file, err: String(err) }, 'config file not found; watching for it to come back'),
      });
    }
    let draining = false;
    const stop = (signal: NodeJS.Signals): void => {
      // A repeat is ignored, not left to the default action (which kills the process mid-drain): a Ctrl-C under
      // `npm run` arrives twice (from the terminal and forwarded by npm). The drain is bounded by drain_timeout_ms.
      if (draining) {
        process.stderr.write(`lifeline: ${signal} while draining: still draining (SIGKILL stops at once)\n`);
        return;
      }
      draining = true;
      process.stderr.write(
        `lifeline draining on ${signal}: /ready answers 503, new API requests 503; waiting for ${server.inflight()} in flight ` +
          `(at most server.drain_timeout_ms: ${config.server.drain_timeout_ms} ms)\n`,
      );
      void server.shutdown().then(() => process.exit(0));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });

program
  .command('check')
  .description('Validate a config file and print each model with its deployments')
  .option('-c, --config <file>', 'YAML config file (default: $LIFELINE_CONFIG)')
  .action((opts: { config?: string }) => {
    process.stdout.write(`${describeConfig(loadOrExit(opts.config))}\n`);
  });

program
  .command('models')
  .description('Print the model catalog (context windows, max output, prices per 1M tokens, capabilities)')
  .option('-c, --config <file>', "instead, print each configured model's targets with the numbers they resolve to and where they come from (config, catalog or unknown)")
  .option('--json', 'print JSON instead of a table')
  .addHelpText(
    'after',
    `
The catalog ships with Lifeline and is dated; a target's context_window, max_output_tokens,
max_input_tokens and price in the config override it (and give numbers to models it does not
know, e.g. Azure deployments or local models). API keys are never printed.

Examples:
  lifeline models                      the whole catalog
  lifeline models --json               the same, as JSON (with each entry's note)
  lifeline models --config lifeline.yaml`,
  )
  .action((opts: { config?: string; json?: boolean }) => {
    if (opts.config === undefined) {
      process.stdout.write(`${opts.json ? toJson(catalogJson()) : formatCatalog()}\n`);
      return;
    }
    const config = loadOrExit(opts.config);
    process.stdout.write(`${opts.json ? toJson(configJson(config)) : formatConfigReport(config)}\n`);
  });

/** What each `--fail-with` name does (a status name needs no words: it answers that status). */
const PRESET_HELP: Record<string, string> = {
  '429': 'HTTP 429 with Retry-After: 1',
  reset: 'the connection is reset, no response',
  hang: 'the request is accepted and never answered',
  slow: 'the answer comes after 2 s',
  cut: 'a stream is cut after 2 chunks (no terminator); a JSON body halfway',
  stall: 'a stream stops after 2 chunks and stays open',
  error_event: 'a stream sends an error event after 2 chunks',
  malformed: 'a 200 whose body (or stream event) is not valid JSON',
};

function mockHelp(): string {
  const presets = Object.keys(FAULT_PRESETS).map((name) => {
    const words = PRESET_HELP[name] ?? (/^\d+$/.test(name) ? `HTTP ${name} with the API's error body` : JSON.stringify(FAULT_PRESETS[name]));
    return `  ${name.padEnd(12)} ${words}`;
  });
  return `
APIs, all on the one port (point a provider's base_url at it):
  OpenAI         base_url http://HOST:PORT/v1 (type openai, or any OpenAI-compatible type)
                   POST /v1/chat/completions   (stream or not)
                   POST /v1/embeddings
                   POST /v1/responses          (the Responses API)
                   GET /v1/models, GET /v1/models/{model}
  Azure OpenAI   base_url http://HOST:PORT (type azure; ?api-version= is ignored)
                   POST /openai/deployments/{deployment}/chat/completions
                   POST /openai/deployments/{deployment}/embeddings
                   GET /openai/models          (what a probe asks)
  Anthropic      base_url http://HOST:PORT/v1 (type anthropic)
                   POST /v1/messages           (the Messages API, stream or not)
                   GET /v1/models              (with anthropic-version: Anthropic's list shape)
  Gemini         base_url http://HOST:PORT/v1beta (type gemini)
                   POST /v1beta/models/{model}:generateContent
                   POST /v1beta/models/{model}:streamGenerateContent   (?alt=sse or a JSON array)
                   POST /v1beta/models/{model}:batchEmbedContents
                   GET /v1beta/models
  Bedrock        base_url http://HOST:PORT (type bedrock; the signature is not checked)
                   POST /model/{model}/converse
                   POST /model/{model}/converse-stream   (AWS event-stream)
  Mistral        base_url http://HOST:PORT/mistral/v1 (type mistral: 422 on fields its schema lacks, usage unasked)
                   POST /mistral/v1/chat/completions
                   GET /mistral/v1/models
Any other path answers 404 "Invalid URL". Model listings (what the gateway's probes ask) take the plan's
"models" fault (docs/mock.md).

Faults (--fail-with NAME,NAME…; each request has a --fail-rate chance of one, chosen with the seeded dice):
${presets.join('\n')}
--plan FILE takes a JSON fault plan: {"default": FAULT, "script": [FAULT, …], "failure_rate": 0.3, "mix": [FAULT, …]},
where a FAULT combines fields such as status, error_code, retry_after, latency_ms, first_token_ms, chunk_gap_ms,
reset, hang, cut_after, stall_after, error_event_after, malformed, no_usage, error_fields, long_line_bytes,
invalid_events, garbage_after; a plan's for_ms limits it to the requests of its first N ms (docs/mock.md).

Control, while it runs: GET /_mock/stats (every request, its headers and body, its fault), GET or PUT /_mock/plan
(read or replace the plan), POST /_mock/reset (stats, plan and dice back to the start).

Examples:
  lifeline mock --port 9100
  lifeline mock --fail-rate 0.3 --fail-with 500,429,reset --seed 7
  lifeline mock --chunk-gap-ms 50 --plan faults.json`;
}

program
  .command('mock')
  .description(
    'Run the mock LLM provider with scriptable faults, for tests and demos: it speaks the OpenAI (chat, embeddings, ' +
      'responses), Azure OpenAI, Anthropic (messages), Gemini and Bedrock (converse) APIs',
  )
  .option('-p, --port <n>', 'listen port', int('--port'), 9100)
  .option('-H, --host <host>', 'listen address', '127.0.0.1')
  .option('--seed <n>', 'seed for the fault dice (same seed, same faults)', int('--seed'), 1)
  .option('--reply <text>', 'fixed answer text')
  .option('--latency-ms <n>', 'delay before every response', int('--latency-ms'))
  .option('--first-token-ms <n>', 'delay before the first body byte / stream chunk', int('--first-token-ms'))
  .option('--chunk-gap-ms <n>', 'delay between stream chunks (the usage chunk and [DONE] follow the finish chunk at once)', int('--chunk-gap-ms'))
  .option('--fail-rate <r>', 'fraction of requests that get a fault from --fail-with (0..1)', ratio)
  .addOption(
    new Option('--fail-with <faults>', `comma-separated faults for --fail-rate: ${Object.keys(FAULT_PRESETS).join(', ')}`).default(
      '500,429,reset',
    ),
  )
  .option('--plan <file>', 'a JSON fault plan ({default, script, failure_rate, mix}); see below')
  .addHelpText('after', mockHelp)
  .action(async (opts: Record<string, string | number | undefined>) => {
    let plan: FaultPlan;
    try {
      plan = opts.plan ? (JSON.parse(readFileSync(String(opts.plan), 'utf8')) as FaultPlan) : {};
      const base = { latency_ms: opts.latencyMs, first_token_ms: opts.firstTokenMs, chunk_gap_ms: opts.chunkGapMs };
      const defaults = Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined));
      if (Object.keys(defaults).length > 0) plan.default = { ...defaults, ...plan.default };
      if (opts.failRate !== undefined) {
        plan.failure_rate = Number(opts.failRate);
        plan.mix = String(opts.failWith).split(',').map((name) => ({ ...defaults, ...faultPreset(name.trim()) }));
      }
    } catch (err) {
      fail(err instanceof Error ? err.message : String(err));
    }
    const mock = await startMock({
      host: String(opts.host),
      port: Number(opts.port),
      seed: Number(opts.seed),
      ...(opts.reply === undefined ? {} : { reply: String(opts.reply) }),
      plan,
    });
    process.stderr.write(`lifeline mock on ${mock.url} (control: ${mock.url.replace(/\/v1$/, '')}/_mock/stats)\n`);
    const stop = (): void => {
      void mock.close().then(() => process.exit(0));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });

program.parseAsync().catch((err: unknown) => {
  fail(err instanceof Error ? err.message : String(err));
});
