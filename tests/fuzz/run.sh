#!/usr/bin/env bash
# Builds the libFuzzer targets (build-fuzz/, clang++-14, ASan + UBSan) and runs each for SECONDS
# (default 30), starting from the seed corpus in tests/fuzz/corpus/<target>/. New inputs go to
# build-fuzz/corpus/<target>/ (the committed seeds stay small); a crash, a leak, a timeout or an
# out-of-memory leaves its input in build-fuzz/artifacts/<target>/ and fails the run.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]     e.g. tests/fuzz/run.sh 600 fuzz_event_json
#
# Prints one line per target: executions, exec/s, corpus size, crashes. Exit 0 only when no
# target found anything.
set -uo pipefail

seconds=${1:-30}
shift || true
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${SAMORDNA_FUZZ_BUILD:-$root/build-fuzz}
targets=("$@")
((${#targets[@]})) || targets=(fuzz_event_json fuzz_episode fuzz_rule_file fuzz_service_config fuzz_hl7 fuzz_mllp fuzz_hl7_session fuzz_webhook fuzz_serve fuzz_fhir)
cxx=${CXX_FUZZ:-clang++-14}

if ! command -v "$cxx" >/dev/null; then
  echo "fuzz: $cxx not found (bash deploy/install-deps.sh installs clang-14 and libclang-rt-14-dev)" >&2
  exit 2
fi
if [[ ! -f $build/CMakeCache.txt ]]; then
  CXX=$cxx cmake -S "$root" -B "$build" -G Ninja -DSAMORDNA_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.configure.log" 2>&1 || {
    cat "$build.configure.log" >&2
    echo "fuzz: configure failed" >&2
    exit 2
  }
fi
cmake --build "$build" --parallel "${SAMORDNA_JOBS:-2}" --target "${targets[@]}" || {
  echo "fuzz: build failed" >&2
  exit 2
}

# target -> seed folder
declare -A seeds=([fuzz_event_json]=event_json [fuzz_episode]=episode [fuzz_rule_file]=rule_file
                  [fuzz_service_config]=service_config [fuzz_hl7]=hl7 [fuzz_mllp]=mllp
                  [fuzz_hl7_session]=hl7 [fuzz_webhook]=webhook [fuzz_serve]=serve [fuzz_fhir]=fhir)
failed=()
summary=()
for t in "${targets[@]}"; do
  work=$build/corpus/$t
  artifacts=$build/artifacts/$t/
  mkdir -p "$work" "$artifacts"
  log=$build/$t.log
  # The HL7 targets also start from the shared conformance messages (read, never copied here).
  extra_seeds=()
  if [[ $t == fuzz_hl7 || $t == fuzz_mllp || $t == fuzz_hl7_session ]] && [[ -d $root/../shared/data/hl7v2 ]]; then
    extra_seeds=("$root/../shared/data/hl7v2")
  fi
  if [[ $t == fuzz_fhir ]] && [[ -d $root/../shared/data/fhir ]]; then
    extra_seeds=("$root/../shared/data/fhir" "$root/../shared/data/fhir/sweden-commonprofiles-care")
  fi
  echo "fuzz: $t for ${seconds}s (log: $log)"
  rc=0
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: 2 GB is an out-of-memory.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts" "$work" \
    "$root/tests/fuzz/corpus/${seeds[$t]}" "${extra_seeds[@]}" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corpus=$(find "$work" -type f | wc -l)
  crashes=$(find "$artifacts" -type f | wc -l)
  line=$(printf '%-20s %4ss  executions %10s  exec/s %7s  corpus %5s  crashes %s' \
    "$t" "$seconds" "${execs:-?}" "${rate:-?}" "$corpus" "$crashes")
  summary+=("$line")
  if ((rc != 0 || crashes > 0)); then
    failed+=("$t")
    echo "fuzz: $t FAILED (exit $rc); its log ends:" >&2
    tail -40 "$log" >&2
  fi
done
echo
echo "fuzz summary:"
printf '  %s\n' "${summary[@]}"
# One line deploy/test.sh counts, each target as one test.
echo "fuzz: ${#targets[@]} targets, $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]}; inputs in $build/artifacts/" >&2
  exit 1
fi
echo "fuzz: no crash, leak, timeout or out-of-memory"
