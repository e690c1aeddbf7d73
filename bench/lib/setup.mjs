// What every bench script starts from: the mock with the bench's reply, and a gateway config that points at it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MODEL } from './load.mjs';
import { startChild } from './procs.mjs';

/** Deltas per streamed reply. */
export const WORDS = 64;
/** 64 deltas of exactly 16 bytes: 15 characters and a space. */
export const REPLY = Array.from({ length: WORDS }, (_, i) => `token-${String(i).padStart(2, '0')}-bench `).join('');
/** The line a gateway (or the floor) prints once it listens; the URL is the first group. */
export const LISTENING = /listening on (http:\/\/\S+)/;

/** `lifeline mock` from the build at `cli`, streaming the bench's reply one delta every `gapMs`. */
export function startMock(cli, gapMs) {
  return startChild('mock', [cli, 'mock', '--port', '0', '--reply', REPLY, '--chunk-gap-ms', String(gapMs)], {
    pattern: /mock on (http:\/\/\S+?)\/v1/,
  });
}

/** Writes the bench config into `dir`: one provider (the mock), one model, every other setting the shipped default. */
export function writeBenchConfig(dir, mockUrl, by) {
  const config = join(dir, 'lifeline.bench.yaml');
  writeFileSync(
    config,
    [
      `# Written by ${by}: one provider (the mock), one model; every other setting is the shipped default.`,
      'server: { host: 127.0.0.1, port: 0 }',
      'providers:',
      `  mock: { type: openai, api_key: bench-key, base_url: "${mockUrl}/v1" }`,
      'models:',
      `  ${MODEL}: { targets: [{ provider: mock, model: ${MODEL} }] }`,
      '',
    ].join('\n'),
  );
  return config;
}
