#!/usr/bin/env bash
# Replay at the speed of the disk (issue 14), side by side in one run on one machine:
#
#   1. db_bench    RocksDB's own `db_bench --benchmarks=fillrandom` (Debian rocksdb-tools) with
#                  the key and value the engine writes per event: a 13-byte episode key
#                  (partition + "ep-NNNNNN") and an episode record of VALUE_SIZE bytes (942 on
#                  average at the end of an episode's life), 1,024 per batch (simulate's unit of
#                  work), one key per event of the 200,000-episode feed.
#   2. simulate    `samordna simulate --state-dir ... --until ...` over 200,000 generated episodes
#                  (and over a national year, 1,500,000 episodes, with YEAR=1): events per second
#                  (wall) and CPU microseconds per event (user + sys), and the ratio to db_bench;
#                  then the same with `--partitions 2 --no-wal` (both cores, no write-ahead log),
#                  its output compared with one partition's per episode.
#                  With OLD=path/to/samordna the same runs with that build first, and the outputs
#                  compared line for line (same notifications, same rejections); its two-partition
#                  runs are timed too.
#   3. kafka       with KAFKA=1, tests/bench/run_kafka_bench.sh part 1 (the service against the
#                  librdkafka ceilings on the real broker) with MAX_BATCH=5000 MAX_BATCH_MS=1000.
#   4. perf        with PERF=1, `perf record` of simulate --partitions 2 --no-wal over the 200,000
#                  episodes: the share of CPU by library and the top symbols.
#
#   tests/bench/run_replay_bench.sh                              # db_bench + 200,000 episodes
#   OLD=/tmp/samordna-old YEAR=1 PERF=1 KAFKA=1 tests/bench/run_replay_bench.sh   # everything
#
# BUILD_DIR (build): a RelWithDebInfo build with samordna and samordna_gen. WORK (/tmp/samordna-
# replay-bench): feeds are generated once and kept there (the year is 1.9 GB). Never run in CI.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
BUILD_DIR=${BUILD_DIR:-build}
WORK=${WORK:-/tmp/samordna-replay-bench}
VALUE_SIZE=${VALUE_SIZE:-942}
DB_BENCH=${DB_BENCH:-/usr/bin/db_bench}
samordna=$BUILD_DIR/engine/app/samordna
gen=$BUILD_DIR/tests/bench/generator/samordna_gen
mkdir -p "$WORK"
[ -x "$DB_BENCH" ] || { echo "run_replay_bench.sh: $DB_BENCH missing (rocksdb-tools)" >&2; exit 1; }
cmake --build "$BUILD_DIR" -j2 --target samordna samordna_gen >/dev/null

feed() {  # EPISODES SEED: the path of a generated feed, made once
  local f=$WORK/feed-$1-$2.jsonl
  [[ -s $f ]] || "$gen" --episodes "$1" --seed "$2" --quiet --out "$f"
  echo "$f"
}

declare -A rate
simulate() {  # NAME BIN FEED [ARGS...]: one simulate run to WORK/NAME.{out,err}; sets rate[NAME]
  local name=$1 bin=$2 f=$3
  shift 3
  rm -rf "$WORK/state"
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -o "$WORK/$name.time" -f '%U %S %M' "$bin" simulate --rules rules/sets \
    --events "$f" --state-dir "$WORK/state" --until 2027-01-01T00:00:00Z --stats "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" || true
  end=$(date +%s.%N)
  local events
  events=$(wc -l <"$f")
  read -r user sys rss < <(tail -n 1 "$WORK/$name.time")
  rate[$name]=$(awk -v e="$events" -v s="$start" -v t="$end" 'BEGIN { printf "%.0f", e / (t - s) }')
  awk -v n="$name" -v e="$events" -v s="$start" -v t="$end" -v u="$user" -v y="$sys" -v m="$rss" \
    -v o="$(wc -l <"$WORK/$name.out")" 'BEGIN {
    printf "%-22s %9d events %9d notifications %7.1f s wall %9.0f events/s %6.1f us CPU/event %5.0f MB RSS\n",
      n, e, o, t - s, e / (t - s), (u + y) * 1e6 / e, m / 1024 }'
}
same() {  # A B: the outputs of two runs agree
  if cmp -s "$WORK/$1.out" "$WORK/$2.out" &&
    cmp -s <(grep -v '^lines=' "$WORK/$1.err") <(grep -v '^lines=' "$WORK/$2.err"); then
    echo "$1 = $2: the same notifications and rejections, line for line"
  else
    echo "$1 != $2: outputs DIFFER (kept in $WORK)"
    return 1
  fi
}

# The same notifications in the same order within each episode (two partitions interleave
# episodes differently), and the same rejection lines.
same_per_episode() {  # A B
  if cmp -s <(grep -v '^lines=' "$WORK/$1.err") <(grep -v '^lines=' "$WORK/$2.err") &&
    python3 - "$WORK/$1.out" "$WORK/$2.out" <<'PY'; then
import json, sys
def per(path):
    by = {}
    for line in open(path):
        by.setdefault(json.loads(line)["episodeId"], []).append(line)
    return by
sys.exit(0 if per(sys.argv[1]) == per(sys.argv[2]) else 1)
PY
    echo "$1 = $2: the same notifications (in the same order within each episode) and rejections"
  else
    echo "$1 != $2: outputs DIFFER (kept in $WORK)"
    return 1
  fi
}

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
f200=$(feed 200000 2025)
events=$(wc -l <"$f200")
echo "== db_bench fillrandom: $events keys of 13 bytes, values of $VALUE_SIZE, 1024 per batch"
rm -rf "$WORK/db_bench"
"$DB_BENCH" --benchmarks=fillrandom --db="$WORK/db_bench" --num="$events" --key_size=13 \
  --value_size="$VALUE_SIZE" --batch_size=1024 --threads=1 --compression_type=snappy \
  --cache_size=$((64 << 20)) --write_buffer_size=$((16 << 20)) \
  --db_write_buffer_size=$((32 << 20)) --max_write_buffer_number=2 --max_background_jobs=2 \
  --disable_wal=0 --sync=0 2>/dev/null >"$WORK/db_bench.txt"
fill=$(awk '$1 == "fillrandom" { for (i = 1; i <= NF; i++) if ($i ~ /^ops\/sec/) print $(i - 1) }' \
  "$WORK/db_bench.txt")
grep '^fillrandom' "$WORK/db_bench.txt"
rm -rf "$WORK/db_bench"

echo "== simulate, 200,000 episodes"
if [[ -n ${OLD:-} ]]; then
  simulate old-200k "$OLD" "$f200"
fi
simulate new-200k "$samordna" "$f200"
[[ -n ${OLD:-} ]] && same old-200k new-200k
echo "simulate / db_bench fillrandom: $(awk -v a="${rate[new-200k]}" -v b="$fill" 'BEGIN { printf "%.2f", a / b }')"
# The replay as a backfill runs it: both cores (two partitions, as Kafka splits a topic) and no
# write-ahead log (the feed rebuilds the state dir).
[[ -n ${OLD:-} ]] && simulate old-200k-p2 "$OLD" "$f200" --partitions 2 --no-wal
simulate new-200k-p2 "$samordna" "$f200" --partitions 2 --no-wal
same_per_episode new-200k new-200k-p2
echo "simulate --partitions 2 --no-wal / db_bench fillrandom: $(awk -v a="${rate[new-200k-p2]}" -v b="$fill" 'BEGIN { printf "%.2f", a / b }')"

if [[ ${YEAR:-0} == 1 ]]; then
  echo "== simulate, a national year (1,500,000 episodes)"
  fy=$(feed 1500000 2025)
  [[ -n ${OLD:-} ]] && simulate old-year "$OLD" "$fy"
  simulate new-year "$samordna" "$fy"
  [[ -n ${OLD:-} ]] && same old-year new-year
  # The build before, timed only (its one-partition output is compared above); its output goes.
  if [[ -n ${OLD:-} ]]; then
    simulate old-year-p2 "$OLD" "$fy" --partitions 2 --no-wal
    rm -f "$WORK/old-year-p2.out"
  fi
  simulate new-year-p2 "$samordna" "$fy" --partitions 2 --no-wal
  same_per_episode new-year new-year-p2
fi

if [[ ${PERF:-0} == 1 ]]; then
  # The replay as measured above (both cores, no write-ahead log), over the 200,000 episodes. awk,
  # not head, ends the lists: it reads perf's output to the end, so pipefail sees no SIGPIPE.
  echo "== perf: simulate --partitions 2 --no-wal over 200,000 episodes"
  rm -rf "$WORK/state"
  perf record -q -o "$WORK/perf.data" "$samordna" simulate --rules rules/sets --events "$f200" \
    --state-dir "$WORK/state" --until 2027-01-01T00:00:00Z --partitions 2 --no-wal \
    >/dev/null 2>&1 || true
  perf report -i "$WORK/perf.data" --sort dso 2>/dev/null | grep -v '^#' | grep . | awk 'NR <= 8'
  perf report -i "$WORK/perf.data" --sort sym 2>/dev/null | grep -v '^#' | grep . |
    awk 'NR <= 15' | cut -c1-120
fi

if [[ ${KAFKA:-0} == 1 ]]; then
  echo "== kafka: the service against its ceilings (run_kafka_bench.sh part 1)"
  PARTS=1 MAX_BATCH=5000 MAX_BATCH_MS=1000 BUILD_DIR=${KAFKA_BUILD_DIR:-build-bench} \
    bash tests/bench/run_kafka_bench.sh
fi
