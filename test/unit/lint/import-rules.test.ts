// What `npm run lint` enforces besides biome's code rules (scripts/lint.sh):
// - the rooms' import rules: the project's .dependency-cruiser.cjs, through dependency-cruiser's API (what its CLI
//   runs), on a tiny fake src/ tree (test/fixtures/lint/), so the test does not depend on the real tree being clean:
//   each forbidden import there fails the rule it breaks, by name, and the allowed ones raise nothing;
// - the size rules (biome.json: under src/, files <= 400 lines, function bodies <= 80), on files generated in a
//   temporary folder whose biome.json extends the project's.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IConfiguration, type IReporterOutput, type OutputType } from 'dependency-cruiser';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURE = join(ROOT, 'test/fixtures/lint');
const BIOME = join(ROOT, 'node_modules/@biomejs/biome/bin/biome');
const CONFIG = createRequire(import.meta.url)(join(ROOT, '.dependency-cruiser.cjs')) as IConfiguration;

/** The lint's `depcruise <paths> --config .dependency-cruiser.cjs`, run in the fixture tree. */
function cruiseFixture(paths: string[], outputType?: OutputType): Promise<IReporterOutput> {
  return cruise(paths, { ...CONFIG.options, baseDir: FIXTURE, validate: true, ruleSet: { forbidden: CONFIG.forbidden }, outputType });
}

/** Every forbidden import in the fixture tree: [rule, from, to]. The first line of each file says the same. */
const FORBIDDEN: [string, string, string][] = [
  ['context-imports-only-base', 'src/context/upward.ts', 'src/routing/routes.ts'],
  ['providers-family-imports-own-folder-and-shared', 'src/providers/anthropic/errors.ts', 'src/providers/openai/adapter.ts'],
  ['providers-transport-types-only', 'src/providers/gemini/request.ts', 'src/transport/pool.ts'],
  ['mock-imports-provider-wire-helpers-only', 'src/mock/answers.ts', 'src/providers/openai/adapter.ts'],
  ['src-imports-no-test-bench-or-dist', 'src/server/uses-test.ts', 'test/helper.ts'],
  ['no-cycles-between-rooms', 'src/cli.ts', 'src/index.ts'],
];

/** Files whose imports are all allowed (and so are those of everything they import). */
const ALLOWED = ['src/context/count.ts', 'src/routing/routes.ts', 'src/providers/azure/adapter.ts', 'src/mock/frames.ts', 'src/transport/pool.ts'];

describe('the rooms: import rules', () => {
  it('fail each forbidden import with the rule it breaks, and nothing else; the lint message names the rule and why', async () => {
    const result = (await cruiseFixture(['src'])).output as ICruiseResult;
    const found = (result.summary.violations ?? []).map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();
    expect(found).toEqual(FORBIDDEN.map(([rule, from, to]) => `${rule}: ${from} → ${to}`).sort());

    const { output, exitCode } = await cruiseFixture(['src'], 'err-long'); // what `npm run lint` prints
    expect(exitCode).toBe(FORBIDDEN.length); // and fails with
    expect(output).toContain('error context-imports-only-base: src/context/upward.ts → src/routing/routes.ts');
    expect(output).toContain('context/ imports only base');
    expect(output).toContain('error providers-transport-types-only: src/providers/gemini/request.ts → src/transport/pool.ts');
    expect(output).toMatch(/error no-cycles-between-rooms: src\/cli\.ts →\s+src\/index\.ts →\s+src\/cli\.ts/);
  });

  it('pass the allowed imports', async () => {
    const result = (await cruiseFixture(ALLOWED)).output as ICruiseResult;
    expect(result.summary.violations).toEqual([]);
    expect(result.modules.map((m) => m.source)).toEqual(expect.arrayContaining([...ALLOWED, 'src/providers/openai/adapter.ts']));
    const { output, exitCode } = await cruiseFixture(ALLOWED, 'err');
    expect(output).toContain('no dependency violations found');
    expect(exitCode).toBe(0);
  });
});

function run(script: string, args: string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { cwd, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

describe('the size rules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-size-rules-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const lines = (n: number, line: (i: number) => string) => Array.from({ length: n }, (_, i) => line(i)).join('\n');
  /** A function whose body is `n` lines. */
  const fn = (n: number) => `export function f(): number {\n  let a = 0;\n${lines(n - 2, () => '  a += 1;')}\n  return a;\n}\n`;

  it('fails a src/ file over 400 lines and a function body over 80, and passes the limits themselves', async () => {
    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'biome.json'), JSON.stringify({ extends: [join(ROOT, 'biome.json')] }));
    writeFileSync(join(dir, 'src/file-400.ts'), `${lines(400, (i) => `export const a${i} = ${i};`)}\n`);
    writeFileSync(join(dir, 'src/file-401.ts'), `${lines(401, (i) => `export const a${i} = ${i};`)}\n`);
    writeFileSync(join(dir, 'src/function-80.ts'), fn(80));
    writeFileSync(join(dir, 'src/function-81.ts'), fn(81));
    const { code, out } = await run(BIOME, ['lint', '--max-diagnostics=50'], dir);
    expect(code).not.toBe(0);
    const flagged = [...out.matchAll(/^(src\/\S+?):\d+:\d+ (lint\/\S+)/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    expect(flagged).toEqual(['src/file-401.ts lint/style/noExcessiveLinesPerFile', 'src/function-81.ts lint/complexity/noExcessiveLinesPerFunction']);
  });
});
