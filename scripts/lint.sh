#!/usr/bin/env bash
# npm run lint: biome (biome.json: the code rules, and under src/ files <= 400 lines, functions <= 80) and the rooms'
# import rules (.dependency-cruiser.cjs: which room may import which, no cycles between rooms, nothing from test/,
# bench/ or dist/). Both always run, so one report shows everything; either failing fails the lint.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
npx --no-install biome lint || status=1
npm run --silent lint:imports || status=1
exit "$status"
