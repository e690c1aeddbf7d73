#!/usr/bin/env bash
# The suite under load, to show it is not flaky: builds once, then runs `npx vitest run` 5 times back to back while
# a second copy of the suite loops beside it (its results are not counted; it is there to keep both cores busy, as a
# shared CI machine does). Prints each counted run's result and a last line `suite-5x: P passed, F failed`; exits 1
# when a counted run failed.
#
#   npm run test:5x                       # the proof: 5 runs, a second suite beside them
#   SUITE_5X_RUNS=2 npm run test:5x       # fewer runs
#   SUITE_5X_BESIDE=0 npm run test:5x     # nothing beside (the suite alone, 5 times)
#   bash scripts/suite-5x.sh test/chaos/faults.test.ts   # arguments go to both vitest commands (here: one file)
#
# Logs (every counted run, the second copy's runs) are kept in a fresh temp directory, printed at the start.
# The tests bind port 0 and make their temp directories with mkdtemp, so two suites side by side do not collide.
set -uo pipefail
cd "$(dirname "$0")/.."

RUNS="${SUITE_5X_RUNS:-5}"
BESIDE="${SUITE_5X_BESIDE:-1}"
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/lifeline-suite-5x-XXXXXX")"
export NO_COLOR=1 FORCE_COLOR=0 # plain logs, so the summary lines can be read back

echo "suite-5x: $RUNS counted runs$([ "$BESIDE" = 1 ] && echo ', a second suite looping beside them'); logs in $LOGS"

# dist/ is what the CLI, bench and pack tests run; `npx vitest run` does not build it (npm test's pretest does).
if ! npm run --silent build >"$LOGS/build.log" 2>&1; then
  cat "$LOGS/build.log"
  echo "suite-5x: the build failed; no run made"
  exit 1
fi

beside_pid=""
stop_beside() {
  [ -n "$beside_pid" ] || return 0
  # The loop runs in its own process group (setsid): that group is vitest, its workers and whatever they spawned.
  kill -TERM -- "-$beside_pid" 2>/dev/null
  for _ in $(seq 1 50); do
    kill -0 -- "-$beside_pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -KILL -- "-$beside_pid" 2>/dev/null
  wait "$beside_pid" 2>/dev/null
  beside_pid=""
}
trap stop_beside EXIT
trap 'stop_beside; exit 130' INT TERM

if [ "$BESIDE" = 1 ]; then
  # Arguments reach the inner shell as its positional parameters.
  setsid bash -c '
    logs="$1"; shift
    n=0
    while :; do
      n=$((n + 1))
      npx vitest run "$@" >"$logs/beside-$n.log" 2>&1
      echo "beside run $n: exit $?" >>"$logs/beside.txt"
    done' suite-5x-beside "$LOGS" "$@" &
  beside_pid=$!
  sleep 5 # let the second copy get going first
fi

summary() { # the "Tests  N passed (N)" line of a vitest log, without vitest's padding
  grep -E '^\s*Tests\s' "$1" | tail -n 1 | sed -E 's/^\s+//; s/\s+/ /g'
}

passed=0
failed=0
started=$SECONDS
for i in $(seq 1 "$RUNS"); do
  log="$LOGS/run-$i.log"
  t0=$SECONDS
  npx vitest run "$@" >"$log" 2>&1
  rc=$?
  took=$((SECONDS - t0))
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
    echo "run $i/$RUNS: passed in ${took} s — $(summary "$log")"
  else
    failed=$((failed + 1))
    echo "run $i/$RUNS: FAILED (exit $rc) in ${took} s — $(summary "$log") — $log"
    # vitest's own list of what failed: the "FAIL file > describe > test" headers.
    grep -E '^\s*FAIL\s' "$log" | sed -E 's/^\s+/    /' | sort -u | head -n 20
  fi
done
total=$((SECONDS - started))

stop_beside
if [ "$BESIDE" = 1 ]; then
  beside_runs=$(grep -c . "$LOGS/beside.txt" 2>/dev/null)
  beside_failed=$(grep -vc 'exit 0$' "$LOGS/beside.txt" 2>/dev/null)
  echo "beside: ${beside_runs:-0} complete runs of the second suite (not counted; ${beside_failed:-0} of them failed), the last one stopped"
fi
echo "suite-5x: $passed passed, $failed failed ($((total / 60)) min $((total % 60)) s)"
[ "$failed" -eq 0 ]
