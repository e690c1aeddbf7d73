// The rooms' import rules (ARCHITECTURE.md, "Rooms"): `npm run lint` runs `depcruise src` with this file, and
// test/unit/lint/import-rules.test.ts shows a rule bite on a fixture tree. One direction, nothing imports upward:
//
//   base (types.ts, errors.ts, cancel.ts, secrets.ts, config/)
//     ← resilience/, accounting/, context/, transport/, observability/   (base and their own room only)
//     ← providers/   (+ resilience/retry-hints, accounting/catalog, transport types)
//     ← routing/     (+ providers, accounting, resilience)
//     ← pipeline/    (everything above)
//     ← server/      (pipeline and below, observability)
//     ← cli.ts, index.ts (anything)
//   mock/: base and providers' wire helpers only.
//
// Each room's rule lists what it MAY import; a path under src/ that is not on the list is a violation named after
// the room. Paths are relative to the folder depcruise runs in (the repository; the fixture tree in the test).

/** The bottom of the house: every room may import these. */
const BASE = ['src/types\\.ts$', 'src/errors\\.ts$', 'src/cancel\\.ts$', 'src/secrets\\.ts$', 'src/config/'];

/** A rule: files matching `from` may import, under src/, only paths matching one of `allowed`. */
function onlyImports(name, from, allowed, comment) {
  return {
    name,
    severity: 'error',
    comment,
    from: { path: from },
    to: { path: '^src/', pathNot: `^(?:${allowed.join('|')})` },
  };
}

const LOWER_ROOMS = ['resilience', 'accounting', 'context', 'transport', 'observability'];
const FAMILIES = ['openai', 'anthropic', 'gemini', 'bedrock'];
/** Families that speak OpenAI's wire: they may build on providers/openai/. */
const OPENAI_WIRE_FAMILIES = ['azure', 'presets'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    onlyImports(
      'config-imports-only-config',
      '^src/config/',
      ['src/config/'],
      'config/ is the bottom: it imports nothing else in src/, not even types.',
    ),
    onlyImports(
      'base-imports-only-base',
      '^src/(?:types|errors|cancel|secrets)\\.ts$',
      BASE,
      'types.ts, errors.ts, cancel.ts and secrets.ts are base: they import only base.',
    ),
    ...LOWER_ROOMS.map((room) =>
      onlyImports(
        `${room}-imports-only-base`,
        `^src/${room}/`,
        [...BASE, `src/${room}/`],
        `${room}/ imports only base (types, errors, cancel, secrets, config) and itself.`,
      ),
    ),
    onlyImports(
      'providers-imports-only-below',
      '^src/providers/',
      [...BASE, 'src/providers/', 'src/resilience/retry-hints\\.ts$', 'src/accounting/catalog(?:-data)?(?:\\.ts$|/)', 'src/transport/'],
      'providers/ imports base, resilience/retry-hints, accounting/catalog (data), transport types and itself.',
    ),
    {
      name: 'providers-transport-types-only',
      severity: 'error',
      comment: 'providers/ build requests and read responses as data: from transport/ they import types only.',
      from: { path: '^src/providers/' },
      to: { path: '^src/transport/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'providers-family-imports-own-folder-and-shared',
      severity: 'error',
      comment: 'A provider family imports its own folder, providers/shared/ and the adapter contract (providers/adapter.ts).',
      from: { path: `^src/providers/(${FAMILIES.join('|')})/` },
      to: { path: '^src/providers/', pathNot: '^src/providers/(?:$1/|shared/|adapter\\.ts$)' },
    },
    {
      name: 'providers-openai-wire-family-imports-own-folder-openai-and-shared',
      severity: 'error',
      comment: 'azure/ and presets/ speak OpenAI\'s wire: their own folder, openai/, shared/ and providers/adapter.ts.',
      from: { path: `^src/providers/(${OPENAI_WIRE_FAMILIES.join('|')})/` },
      to: { path: '^src/providers/', pathNot: '^src/providers/(?:$1/|openai/|shared/|adapter\\.ts$)' },
    },
    {
      name: 'providers-shared-imports-no-family',
      severity: 'error',
      comment: 'providers/shared/ is what the families share: it imports no family folder (and not the registry).',
      from: { path: '^src/providers/shared/' },
      to: { path: '^src/providers/', pathNot: '^src/providers/(?:shared/|adapter\\.ts$)' },
    },
    {
      name: 'providers-contract-imports-no-family',
      severity: 'error',
      comment: 'Only the registry (providers/index.ts) knows the families; the contract files at providers/ root do not.',
      from: { path: '^src/providers/[^/]+\\.ts$', pathNot: '^src/providers/index\\.ts$' },
      to: { path: '^src/providers/[^/]+/' },
    },
    onlyImports(
      'routing-imports-only-below',
      '^src/routing/',
      [...BASE, 'src/routing/', 'src/providers/', 'src/accounting/', 'src/resilience/'],
      'routing/ imports base, providers/, accounting/, resilience/ and itself.',
    ),
    {
      name: 'pipeline-imports-no-server-mock-or-entry',
      severity: 'error',
      comment: 'pipeline/ imports every room below it, never server/, mock/ or the entry points.',
      from: { path: '^src/pipeline/' },
      to: { path: '^src/(?:server/|mock/|cli\\.ts$|index\\.ts$)' },
    },
    {
      name: 'server-imports-no-mock-or-entry',
      severity: 'error',
      comment: 'server/ imports pipeline/ and the rooms below it, never mock/ or the entry points.',
      from: { path: '^src/server/' },
      to: { path: '^src/(?:mock/|cli\\.ts$|index\\.ts$)' },
    },
    onlyImports(
      'mock-imports-only-base-and-providers',
      '^src/mock/',
      [...BASE, 'src/mock/', 'src/providers/'],
      'mock/ is a stand-in upstream: it imports base and providers/ wire helpers, nothing of the gateway itself.',
    ),
    {
      name: 'mock-imports-provider-wire-helpers-only',
      severity: 'error',
      comment: 'mock/ may reuse providers\' wire helpers (framing, shapes), not the gateway\'s adapters or their registry.',
      from: { path: '^src/mock/' },
      to: { path: '^src/providers/(?:index|adapter|[^/]+/adapter)\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-cycles-between-rooms',
      severity: 'error',
      comment: 'An import cycle that leaves its room ties two rooms together: one of them imports upward.',
      from: { path: '^src/([^/.]+)' },
      to: { circular: true, via: { pathNot: '^src/$1[/.]' } },
    },
    {
      name: 'src-imports-no-test-bench-or-dist',
      severity: 'error',
      comment: 'src/ is what ships: it never imports test/, bench/ or the build output.',
      from: { path: '^src/' },
      to: { path: '^(?:test|bench|dist)/' },
    },
    {
      name: 'src-imports-resolve',
      severity: 'error',
      comment: 'An import the cruiser cannot resolve would slip past every other rule.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // `import type` counts: a type import upward ties the rooms as much as a value one.
    tsPreCompilationDeps: true,
    // No tsConfig: every import in src/ is relative, and `./x.js` resolves to x.ts without one (the same graph as
    // with tsconfig.json), so the rules run the same on the test's fixture tree, which has no tsconfig.
    doNotFollow: { path: 'node_modules' },
    moduleSystems: ['es6', 'cjs'],
  },
};
