#!/usr/bin/env bash
# Timer store benchmark beside RocksDB's own write benchmark, on the same machine.
#
#   tests/bench/run_timer_bench.sh            # 10 million pending timers (5 to 8 minutes on 2 cores)
#   PENDING=1000000 tests/bench/run_timer_bench.sh
#
# Builds timer_store_bench in Release (BUILD_DIR, default build-timer-bench), runs it against an
# on-disk store of PENDING timers, then `db_bench --benchmarks=fillrandom` (Debian rocksdb-tools)
# with the same count, key and value sizes, batch size, cache and memtable budget, and prints both
# with their ratio. Scratch data goes under TMPDIR and is removed at exit. Never run in CI.
set -euo pipefail

PENDING=${PENDING:-10000000}
BUILD_DIR=${BUILD_DIR:-build-timer-bench}
DB_BENCH=${DB_BENCH:-/usr/bin/db_bench}
# Sizes the synthetic timers have (tests/bench/timer_store_bench.cc): the timers key is
# 4 (partition) + 8 (fire_at) + 1 (kind) + 13 ("ep-" + 10 digits) = 26 bytes; an index entry has a
# 20-byte key and an 8-byte value. db_bench writes one 26-byte key with an 8-byte value per op.
KEY_SIZE=26
VALUE_SIZE=8
BATCH=100

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
command -v jq >/dev/null || { echo "run_timer_bench.sh: needs jq" >&2; exit 1; }
[ -x "$DB_BENCH" ] || { echo "run_timer_bench.sh: $DB_BENCH missing (apt-get install rocksdb-tools)" >&2; exit 1; }

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j2 --target timer_store_bench

work=$(mktemp -d "${TMPDIR:-/tmp}/samordna-timer-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== timer_store_bench: $PENDING pending timers, on disk in $work"
"$BUILD_DIR/tests/bench/timer_store_bench" --timer_pending="$PENDING" --timer_dir="$work/timers" \
  --benchmark_out="$work/timers.json" --benchmark_out_format=json
rm -rf "$work/timers"

echo "== db_bench fillrandom: $PENDING keys of $KEY_SIZE bytes, values of $VALUE_SIZE, $BATCH per batch"
"$DB_BENCH" --benchmarks=fillrandom --db="$work/db_bench" --num="$PENDING" \
  --key_size="$KEY_SIZE" --value_size="$VALUE_SIZE" --batch_size="$BATCH" --threads=1 \
  --compression_type=snappy --cache_size=$((64 << 20)) --cache_index_and_filter_blocks=1 \
  --bloom_bits=10 --write_buffer_size=$((16 << 20)) --db_write_buffer_size=$((32 << 20)) \
  --max_write_buffer_number=2 --max_background_jobs=2 --disable_wal=0 --sync=0 \
  2>"$work/db_bench.progress" | tee "$work/db_bench.txt"
fill=$(awk '$1 == "fillrandom" { for (i = 1; i <= NF; i++) if ($i ~ /^ops\/sec/) print $(i - 1) }' \
  "$work/db_bench.txt")
[ -n "$fill" ] || { echo "run_timer_bench.sh: no fillrandom figure in db_bench output" >&2; exit 1; }

rate() {  # items per second of one benchmark run
  jq -r --arg name "$1" '.benchmarks[] | select(.name == $name) | .items_per_second | floor' \
    "$work/timers.json"
}
counter() {
  jq -r --arg name "$1" --arg c "$2" '.benchmarks[] | select(.name == $name) | .[$c] | . * 10 | round / 10' \
    "$work/timers.json"
}
ratio() { awk -v a="$1" -v b="$fill" 'BEGIN { printf "%.2f", a / b }'; }

load=BM_Load/iterations:1/real_time
m() { awk -v n="$1" 'BEGIN { printf "%gM", n / 1e6 }'; }
echo
echo "== Summary ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-44s %12s %s\n' "figure" "per second" "vs db_bench fillrandom"
printf '%-44s %12s %s\n' "db_bench fillrandom ($BATCH keys per batch)" "$fill" "1.00"
printf '%-44s %12s %s\n' "load from empty ($BATCH schedules per batch)" "$(rate "$load")" "$(ratio "$(rate "$load")")"
for b in 1 100; do
  r=$(rate "BM_Schedule/$b/min_time:2.000/real_time")
  printf '%-44s %12s %s\n' "schedule at $(m "$PENDING") pending ($b per batch)" "$r" "$(ratio "$r")"
done
for b in 1 100; do
  r=$(rate "BM_Cancel/$b/min_time:2.000/real_time")
  printf '%-44s %12s %s\n' "cancel at $(m "$PENDING") pending ($b per batch)" "$r" "$(ratio "$r")"
done
for l in 100 1000; do
  r=$(rate "BM_Fire/$l/min_time:2.000/real_time")
  printf '%-44s %12s %s\n' "fire (due limit $l + cancel, one batch)" "$r" "$(ratio "$r")"
done
echo "load: $(counter "$load" write_stall_pct)% of the time writes were stalled for compaction;" \
  "then $(counter "$load" settle_s) s (untimed) until its compactions were done"
echo
printf '%-12s %10s %10s %14s %10s\n' "pending" "VmRSS MiB" "cache MiB" "memtables MiB" "rest MiB"
for n in $((PENDING / 10)) $((PENDING / 2)) "$PENDING"; do
  at="@$(awk -v n="$n" 'BEGIN { printf "%g", n / 1e6 }')M"
  rss=$(counter "$load" "rss_MiB$at")
  cache=$(counter "$load" "cache_MiB$at")
  mem=$(counter "$load" "memtables_MiB$at")
  printf '%-12s %10s %10s %14s %10s\n' "$(m "$n")" "$rss" "$cache" "$mem" \
    "$(awk -v r="$rss" -v c="$cache" -v t="$mem" 'BEGIN { printf "%.1f", r - c - t }')"
done
last=$(jq -r '.benchmarks[-1].name' "$work/timers.json")
echo "after all benchmarks: VmRSS $(counter "$last" rss_MiB) MiB, cache $(counter "$last" cache_MiB) MiB," \
  "memtables $(counter "$last" memtables_MiB) MiB, freed but kept by malloc $(counter "$last" malloc_free_MiB) MiB"
