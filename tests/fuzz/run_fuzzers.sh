#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang in their own build directory and
# runs each for a fixed number of inputs over its committed seed corpus (the
# corpus in the repository is only read; new inputs go to a scratch copy).
# Fails on any crash, leak, undefined behaviour or timeout, and prints the
# executions of each.
#   run_fuzzers.sh SOURCE_DIR BUILD_DIR RUNS_EACH
# The mutation seed is fixed (WAVECOM_FUZZ_SEED, default 1) so that a test run
# tries the same inputs every time and cannot fail by chance; set another seed,
# or a larger count, to explore, and commit what it finds to the corpus.
set -euo pipefail
src=$(realpath "$1") build=$(realpath -m "$2") runs=${3:-1000000}
seed=${WAVECOM_FUZZ_SEED:-1}
cc=$(command -v clang || true) cxx=$(command -v clang++ || true)
[[ -n $cc && -n $cxx ]] || { echo "clang is not installed (deploy/stack.sh install installs it)" >&2; exit 1; }
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Debug -DWAVECOM_FUZZ=ON \
  -DWAVECOM_WERROR=ON >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j2 --target fuzzers >"$build.build.log" 2>&1 || { tail -50 "$build.build.log"; exit 1; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for harness in fuzz_notification fuzz_queue_message fuzz_headers_urls fuzz_template; do
  mkdir -p "$scratch/$harness"
  log="$scratch/$harness.log"
  # -runs bounds the work and -max_total_time the time; -timeout flags one
  # slow input; leaks are findings (detect_leaks); halt on the first UBSan report.
  if ! (cd "$scratch" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$build/tests/fuzz/$harness" -seed="$seed" -runs="$runs" -max_total_time=300 -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 "$scratch/$harness" "$src/tests/fuzz/corpus/$harness" \
        >"$log" 2>&1); then
    echo "== $harness FAILED"; tail -60 "$log"; status=1
    continue
  fi
  corpus=$(ls "$scratch/$harness" | wc -l)
  done_runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "== $harness: ${done_runs:-?} executions (seed $seed), 0 crashes, $corpus new corpus inputs"
done
exit $status
