#!/usr/bin/env bash
# `npm run test:soak [-- RUNS]`: the flakiness check. Runs the whole suite (`npm test`) RUNS times in a
# row (default 5) while `npm run bench:rollout` loops beside it, so the tests share the machine's cores
# with a CPU-heavy neighbour the whole time. Stops at the first failing run. Logs go to
# test-artifacts/soak/ (run-N.log, bench.log); the summary is printed and written to summary.txt.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

runs="${1:-5}"
out=test-artifacts/soak
mkdir -p "$out"
rm -f "$out"/run-*.log "$out"/bench.log "$out"/summary.txt

# The neighbour: the full rollout benchmark, again and again, in a process group of its own so that
# it (and the child processes it spawns) can be stopped together at the end.
# shellcheck disable=SC2016 # $(date …) is for the inner shell
setsid bash -c 'while :; do npm run -s bench:rollout -- --no-profile || exit 1; echo "--- bench run done $(date -u +%T)"; done' \
  >"$out/bench.log" 2>&1 &
bench=$!
# shellcheck disable=SC2317 # called by the trap
stop_bench() { kill -- "-$bench" 2>/dev/null; wait "$bench" 2>/dev/null; }
trap stop_bench EXIT

summary() { echo "$1" | tee -a "$out/summary.txt"; }
summary "test:soak on $(nproc) cores, $(date -u +%FT%TZ): $runs runs of npm test beside npm run bench:rollout (looping)"
failed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  npm test >"$out/run-$i.log" 2>&1
  code=$?
  took=$(( $(date +%s) - start ))
  counts=$(grep -E '^# (tests|pass|fail|cancelled|skipped|todo) ' "$out/run-$i.log" | awk '{printf "%s %s  ", $2, $3}')
  summary "run $i: exit $code in ${took}s  ${counts}"
  if [ "$code" != 0 ]; then
    failed=1
    grep -E '^not ok|^\s+not ok' "$out/run-$i.log" | head -20 | tee -a "$out/summary.txt"
    break
  fi
done
benches=$(grep -c '^--- bench run done' "$out/bench.log")
if ! kill -0 "$bench" 2>/dev/null; then
  summary "the benchmark loop died: see $out/bench.log"
  failed=1
fi
summary "bench:rollout completed $benches full runs meanwhile"
if [ "$failed" = 0 ]; then summary "all $runs runs passed"; else summary "FAILED"; fi
exit "$failed"
