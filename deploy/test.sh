#!/usr/bin/env bash
# THE test command (README; CI runs it through .ci/run). From any directory:
#
#   bash deploy/test.sh
#
# 1. installs the Debian packages (deploy/install-deps.sh: a no-op when all are present)
# 2. release preset (build/): configure, build everything, `ctest --preset release`, all labels
#    (unit, scenario, integration, lint); a Kafka broker is started for the integration tests
#    when deploy/kafka/kafka.sh exists (see the HOOK below)
# 3. dev preset (build-dev/, Debug + ASan + UBSan, benchmarks off): build, run unit + scenario
# 4. fuzz (build-fuzz/, clang++-14 + libFuzzer, ASan + UBSan): tests/fuzz/run.sh runs each target
#    for SAMORDNA_FUZZ_SECONDS (10); each target counts as one test
#
# Exits non-zero when any step fails. A failing step does not stop the others, so one run shows
# every failure: builds keep going past a broken target (ninja -k 0), and a tree whose build failed
# is still tested (tests of targets that did not build are missing from that run; the build step
# is reported failed). A tree that did not even configure is not tested. The last line is the
# total over both ctest runs, "tests: N passed, N failed".
#
# Re-running reuses build/ and build-dev/ (only what changed is rebuilt).
# Environment:
#   SAMORDNA_JOBS=2          build and ctest parallelism (the machines have 2 cores)
#   SAMORDNA_SKIP_DEV=1      skip step 3 (a quick local run; CI never sets it)
#   SAMORDNA_SKIP_FUZZ=1     skip step 4 (likewise)
#   SAMORDNA_FUZZ_SECONDS=10 how long each fuzz target runs (about 10 targets: under 2 minutes)
#   SAMORDNA_TEST_TIMEOUT=300  per-test limit in seconds for tests that set none
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

jobs="${SAMORDNA_JOBS:-2}"
timeout="${SAMORDNA_TEST_TIMEOUT:-300}"
export CMAKE_BUILD_PARALLEL_LEVEL="$jobs"
# Sanitizers: stop at the first report, with a stack. Leak checking is ASan's default on Linux.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:strict_init_order=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

start_all=$SECONDS
failed_steps=()
passed_total=0
failed_total=0

step() { printf '\n==== %s  (+%ds)\n' "$*" $((SECONDS - start_all)); }

# Runs ctest with the given arguments, prints its output, and adds its summary line
# ("100% tests passed, 0 tests failed out of 12") to the totals. Returns ctest's status.
run_ctest() {
  local log rc=0
  log="$(mktemp)"
  ctest "$@" --parallel "$jobs" --timeout "$timeout" --no-tests=error 2>&1 | tee "$log" || rc=$?
  local summary
  summary="$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)"
  if [[ -n $summary ]]; then
    local failed total
    failed="$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$summary")"
    total="$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$summary")"
    passed_total=$((passed_total + total - failed))
    failed_total=$((failed_total + failed))
  elif ((rc != 0)); then
    failed_total=$((failed_total + 1))   # ctest failed before running anything (no tests, bad preset)
  fi
  rm -f "$log"
  return "$rc"
}

# ---- 1. dependencies --------------------------------------------------------------------------
step "dependencies"
bash deploy/install-deps.sh
# playwright-core and axe-core for the web app's browser test; without them it skips.
bash deploy/install-web-test-deps.sh || echo "test.sh: the web test's npm packages could not be installed; web.browser will skip"

# ---- 2. release: build everything, run every label -------------------------------------------
step "release: configure + build (build/)"
release_configured=0
if cmake --preset release >/dev/null; then
  release_configured=1
  cmake --build --preset release --parallel "$jobs" -- -k 0 || failed_steps+=("release build")
else
  failed_steps+=("release configure")
fi

kafka_started=0
stop_kafka() {
  if ((kafka_started)); then
    bash deploy/kafka/kafka.sh stop || echo "test.sh: kafka.sh stop failed (ignored)" >&2
    kafka_started=0
  fi
}
trap stop_kafka EXIT

if ((release_configured)); then
  # ---- HOOK: Kafka broker for the integration tests -------------------------------------------
  # deploy/kafka/kafka.sh (the Kafka connector's) runs a local single-node broker on loopback.
  # When it exists and the release tree has tests labelled `integration`, the broker is started
  # here and stopped when this script exits (also on failure).
  #   kafka.sh start   returns once the broker accepts clients; prints host:port on stdout
  #   kafka.sh stop    idempotent
  # The address goes to the tests as SAMORDNA_KAFKA_BOOTSTRAP (e.g. 127.0.0.1:19092). Without
  # kafka.sh, or when it fails to start, the integration tests run without a broker (and fail or
  # skip on their own); a failed start also fails this script.
  n_integration="$(ctest --preset release -N -L integration 2>/dev/null \
    | sed -nE 's/^Total Tests: ([0-9]+)/\1/p')"
  if [[ -f deploy/kafka/kafka.sh && ${n_integration:-0} -gt 0 ]]; then
    step "kafka: starting the broker for ${n_integration} integration test(s)"
    if bootstrap="$(bash deploy/kafka/kafka.sh start)"; then
      kafka_started=1
      export SAMORDNA_KAFKA_BOOTSTRAP="${bootstrap##*$'\n'}"
      echo "kafka: broker at ${SAMORDNA_KAFKA_BOOTSTRAP}"
    else
      failed_steps+=("kafka start")
    fi
  fi
  # ---- end of HOOK ----------------------------------------------------------------------------

  step "release: ctest --preset release (all labels)"
  run_ctest --preset release || failed_steps+=("release tests")
  stop_kafka
fi

# ---- 3. dev: ASan + UBSan, unit + scenario ----------------------------------------------------
# The dev preset has benchmarks off, so its `all` is exactly the libraries, the samordna binary
# (the scenario tests drive it) and the test executables: nothing is built that is not tested.
if [[ ${SAMORDNA_SKIP_DEV:-0} != 1 ]]; then
  step "dev: configure + build (build-dev/, ASan + UBSan)"
  if cmake --preset dev >/dev/null; then
    cmake --build --preset dev --parallel "$jobs" -- -k 0 || failed_steps+=("dev build")
    step "dev: ctest --preset dev -L 'unit|scenario'"
    run_ctest --preset dev -L 'unit|scenario' || failed_steps+=("dev tests (ASan+UBSan)")
  else
    failed_steps+=("dev configure")
  fi
fi

# ---- 4. fuzz: libFuzzer, each target for a short run ---------------------------------------
if [[ ${SAMORDNA_SKIP_FUZZ:-0} != 1 ]]; then
  step "fuzz: tests/fuzz/run.sh ${SAMORDNA_FUZZ_SECONDS:-10} (build-fuzz/, clang++-14)"
  fuzz_log="$(mktemp)"
  fuzz_rc=0
  SAMORDNA_JOBS="$jobs" bash tests/fuzz/run.sh "${SAMORDNA_FUZZ_SECONDS:-10}" 2>&1 | tee "$fuzz_log" ||
    fuzz_rc=$?
  fuzz_counts="$(grep -E '^fuzz: [0-9]+ targets, [0-9]+ passed, [0-9]+ failed' "$fuzz_log" | tail -1 || true)"
  if [[ -n $fuzz_counts ]]; then
    passed_total=$((passed_total + $(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$fuzz_counts")))
    failed_total=$((failed_total + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$fuzz_counts")))
  elif ((fuzz_rc != 0)); then
    failed_total=$((failed_total + 1))  # did not build or configure
  fi
  ((fuzz_rc == 0)) || failed_steps+=("fuzz")
  rm -f "$fuzz_log"
fi

# ---- summary ----------------------------------------------------------------------------------
step "done"
if ((${#failed_steps[@]})); then
  printf 'test.sh: FAILED: %s\n' "$(IFS=,; echo "${failed_steps[*]}" | sed 's/,/, /g')"
else
  echo "test.sh: all steps passed"
fi
echo "tests: ${passed_total} passed, ${failed_total} failed"
((${#failed_steps[@]} == 0))
