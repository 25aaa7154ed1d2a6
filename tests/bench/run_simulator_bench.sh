#!/usr/bin/env bash
# The simulator on a generated national year: events per second through the whole engine (JSON
# parse, state machine, RocksDB state and timer store, JSON out), state on disk.
#   tests/bench/run_simulator_bench.sh [EPISODES]   (default 1500000, about a Swedish year)
# Prints the generator's and the simulator's figures. Needs ~2 GB in /tmp for a full year.
set -euo pipefail
cd "$(dirname "$0")/../.."
episodes=${1:-1500000}
build=build-bench
work=${SAMORDNA_BENCH_DIR:-/tmp/samordna-sim-bench}
mkdir -p "$work"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSAMORDNA_TESTS=ON >/dev/null
cmake --build "$build" -j2 --target samordna samordna_gen >"$work/build.log" 2>&1 ||
  { tail -20 "$work/build.log"; exit 1; }
feed=$work/year-$episodes.jsonl
if [[ ! -s $feed ]]; then
  /usr/bin/time -f "generate: %e s wall, %M KB max RSS" \
    "$build/tests/bench/generator/samordna_gen" --episodes "$episodes" --seed 2025 --quiet --out "$feed"
fi
events=$(wc -l <"$feed")
rm -rf "$work/state"
start=$(date +%s.%N)
/usr/bin/time -f "simulate: %e s wall, %U s user, %M KB max RSS" \
  "$build/engine/app/samordna" simulate --rules rules/sets --events "$feed" \
  --state-dir "$work/state" --until 2027-01-01T00:00:00Z --stats >"$work/notifications.jsonl" 2>"$work/stderr.txt" || true
end=$(date +%s.%N)
grep -E "^(lines|simulate)" "$work/stderr.txt" || tail -3 "$work/stderr.txt"
notifications=$(wc -l <"$work/notifications.jsonl")
awk -v e="$events" -v n="$notifications" -v s="$start" -v t="$end" 'BEGIN {
  d = t - s; printf "episodes=%d events=%d notifications=%d seconds=%.1f events_per_second=%.0f\n", '"$episodes"', e, n, d, e / d }'
