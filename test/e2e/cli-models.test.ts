// `lifeline models` as a user runs it: the built CLI (dist/, made by `npm run build`) in a child process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CATALOG, CATALOG_DATE } from '../../src/accounting/catalog-data.js';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');
const SECRET = 'sk-models-test-secret';
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeline-models-'));
});

function run(...args: string[]) {
  return spawnSync(process.execPath, [CLI, 'models', ...args], { encoding: 'utf8', env: { ...process.env, MODELS_TEST_KEY: SECRET } });
}

function writeConfig(text: string): string {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}

describe('lifeline models', () => {
  it('prints the catalog as a table with its date and sources', () => {
    const res = run();
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^family\s+model\s+context\s+max out\s+\$in\/1M\s+\$out\/1M\s+\$cached\/1M\s+capabilities$/m);
    expect(res.stdout).toMatch(/^openai\s+gpt-4o-mini\s+128,000\s+16,384\s+\$0\.15\s+\$0\.60\s+\$0\.075\s+tools,vision,json$/m);
    expect(res.stdout).toMatch(/^bedrock\s+amazon\.nova-lite-v1:0 \*\s+300,000/m);
    expect(res.stdout).toContain(`compiled ${CATALOG_DATE}`);
    expect(res.stdout).toContain('https://platform.openai.com/docs/pricing');
    const rows = res.stdout.split('\n').filter((line) => /^[a-z]+\s{2,}\S/.test(line) && !line.startsWith('family'));
    expect(rows.length).toBe(Object.values(CATALOG).flat().length);
  });

  it('--json prints every entry with its family and note', () => {
    const res = run('--json');
    expect(res.status).toBe(0);
    const out = JSON.parse(res.stdout) as { date: string; sources: string[]; models: { family: string; id: string; note: string | null }[] };
    expect(out.date).toBe(CATALOG_DATE);
    expect(out.sources.length).toBeGreaterThan(0);
    expect(out.models.length).toBe(Object.values(CATALOG).flat().length);
    expect(out.models.find((m) => m.id === 'claude-haiku-4-5-20251001')).toMatchObject({ family: 'anthropic', context_window: 200000 });
    expect(out.models.find((m) => m.id === 'gemini-2.5-pro')?.note).toContain('200K');
  });

  it('--config prints each configured model → targets, with where the numbers came from, and never a key', () => {
    const config = writeConfig(`providers:
  openai-east: { type: openai, api_key: \${MODELS_TEST_KEY} }
  azure-prod: { type: azure, api_key: \${MODELS_TEST_KEY}, base_url: https://example.openai.azure.com }
  claude: { type: anthropic, api_key: \${MODELS_TEST_KEY} }
  local: { type: ollama }
models:
  gpt-4o:
    targets:
      - { provider: openai-east, model: gpt-4o-2024-08-06 }
      - { provider: azure-prod, model: prod-4o, context_window: 128000, price: { input: 2, output: 8 } }
  sonnet: { targets: [{ provider: claude, model: claude-sonnet-4-5, max_output_tokens: 8192 }] }
  llama: { targets: [{ provider: local, model: llama3.1 }] }
`);
    const res = run('--config', config);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^gpt-4o\s+openai-east\/gpt-4o-2024-08-06\s+openai\s+128,000\s+16,384\s+\$2\.50\s+\$10\.00\s+\$1\.25\s+catalog \(gpt-4o\)$/m);
    expect(res.stdout).toMatch(/^gpt-4o\s+azure-prod\/prod-4o\s+azure\s+128,000\s+-\s+\$2\.00\s+\$8\.00\s+-\s+config: context, price; unknown: max out$/m);
    expect(res.stdout).toMatch(/^sonnet\s+claude\/claude-sonnet-4-5\s+anthropic\s+200,000\s+8,192\s+.*config: max out; catalog \(claude-sonnet-4-5-20250929\): context, price$/m);
    expect(res.stdout).toMatch(/^llama\s+local\/llama3\.1\s+ollama\s+-\s+-\s+-\s+-\s+-\s+unknown$/m);
    expect(res.stdout + res.stderr).not.toContain(SECRET);

    const json = run('--config', config, '--json');
    expect(json.status).toBe(0);
    const out = JSON.parse(json.stdout) as { models: { name: string; targets: { model: string; source: string; max_output_tokens: number | null }[] }[] };
    expect(out.models.map((m) => m.name)).toEqual(['gpt-4o', 'sonnet', 'llama']);
    expect(out.models[1]!.targets[0]).toMatchObject({ model: 'claude-sonnet-4-5', source: 'config+catalog', max_output_tokens: 8192 });
    expect(json.stdout).not.toContain(SECRET);
  });

  it('--config with a bad file names the problem and exits 2', () => {
    const res = run('--config', join(dir, 'missing.yaml'));
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('file not found');
  });

  it('--help explains the command', () => {
    const res = run('--help');
    expect(res.status).toBe(0);
    for (const text of ['--config <file>', '--json', 'context_window, max_output_tokens', 'never printed']) expect(res.stdout).toContain(text);
  });
});
