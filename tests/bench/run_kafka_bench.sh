#!/usr/bin/env bash
# samordna run on the real broker, measured (issue 3). Four parts, each printed as it finishes:
#
#   1. throughput  events per second of `samordna run` replaying a generated feed (event time, to
#                  its end, --exit-at-end), against kafka_ceiling on the same records and broker:
#                  librdkafka consume + produce of the same records with the service's settings and
#                  no engine, once with one transaction per batch (as the service) and once plain.
#                  Then (TWO=1, the default) two instances in one consumer group, two partitions each.
#   2. restore     a second instance with an empty state dir (a new machine) restores every
#                  partition from the changelog part 1 wrote: records per second, ms per partition.
#   3. recovery    a live (wall-clock) instance holding about RECOVERY_EPISODES x 2 pending timers
#                  is killed with SIGKILL while it consumes; the time from the restart to its first
#                  committed transaction, split into opening the state, joining the group,
#                  restoring, and the first commit.
#   4. latency     notification latency after a deadline, live: tests/integration/eos/live_timers.sh
#                  with LATENCY_DEADLINES (40) deadlines; min, median and max of read - fire time.
#
#   tests/bench/run_kafka_bench.sh                    # ~8 minutes on 2 cores
#   EPISODES=5000 RECOVERY_EPISODES=20000 tests/bench/run_kafka_bench.sh    # a quick look
#   PARTS="1 2" ROUNDS=5 tests/bench/run_kafka_bench.sh                    # throughput and restore only
# ROUNDS (3): throughput rounds (ceilings and service alternate), the medians are reported.
# MAX_BATCH (1000), MAX_BATCH_MS (100): maxBatch / maxBatchMs of the service and the ceiling.
#
# Starts the development broker (deploy/kafka/kafka.sh start) unless SAMORDNA_KAFKA_BOOTSTRAP is
# set. Builds in Release (BUILD_DIR, default build-bench; an existing dir keeps its build type).
# Topics are named bench-<pid>-*, and are deleted at the end with the work dir (KEEP=1 keeps both).
# Never run in CI.
set -euo pipefail

EPISODES=${EPISODES:-50000}
RECOVERY_EPISODES=${RECOVERY_EPISODES:-500000}
MAX_BATCH=${MAX_BATCH:-1000}       # the service's defaults; the ceiling uses the same
MAX_BATCH_MS=${MAX_BATCH_MS:-100}
BUILD_DIR=${BUILD_DIR:-build-bench}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

# A new dir is configured Release; an existing one keeps its build type (BUILD_DIR=build, the
# release preset's RelWithDebInfo dir, is not switched and rebuilt whole).
if [[ -f $BUILD_DIR/CMakeCache.txt ]]; then
  cmake -S . -B "$BUILD_DIR" -DSAMORDNA_BENCH=ON >/dev/null
else
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSAMORDNA_BENCH=ON >/dev/null
fi
cmake --build "$BUILD_DIR" -j2 --target samordna samordna_gen kafka_ceiling >/dev/null
samordna=$BUILD_DIR/engine/app/samordna
gen=$BUILD_DIR/tests/bench/generator/samordna_gen
ceiling=$BUILD_DIR/tests/bench/kafka_ceiling
bootstrap=${SAMORDNA_KAFKA_BOOTSTRAP:-$(deploy/kafka/kafka.sh start 2>/dev/null)}

prefix=bench-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/samordna-kafka-bench.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  if [[ ${KEEP:-0} == 1 ]]; then
    echo "kept: $work, topics $prefix.*"
  else
    topics delete "^$prefix\\..*" >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
}
trap cleanup EXIT
log() { printf '[bench +%3ds] %s\n' "$SECONDS" "$*" >&2; }
topics() {
  local op=$1 topic=$2
  shift 2
  bash deploy/kafka/kafka.sh tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" \
    "--$op" --topic "$topic" "$@"
}
config() {  # NAME CLOCK: a config whose topics are $prefix.NAME.*
  local name=$1 clock=$2
  cat >"$work/$name.yaml" <<YAML
kafka:
  bootstrap: $bootstrap
  groupId: $prefix-$name
  partitions: 4
  topics: {events: $prefix.$name.events, notifications: $prefix.$name.notifications, deadletter: $prefix.$name.deadletter, changelog: $prefix.$name.changelog, episodes: $prefix.$name.episodes}
rulesDir: $root/rules/sets
clock: $clock
YAML
  [[ $clock == event-time ]] && echo "until: 2027-01-01T00:00:00Z" >>"$work/$name.yaml"
  printf 'maxBatch: %s\nmaxBatchMs: %s\n' "$MAX_BATCH" "$MAX_BATCH_MS" >>"$work/$name.yaml"
  topics create "$prefix.$name.events" --partitions 4 --replication-factor 1 >/dev/null
}
# The milliseconds since the epoch of an spdlog line's timestamp ([YYYY-mm-dd HH:MM:SS.mmm], local).
log_ms() { sed -nE 's/^\[([0-9-]+ [0-9:]+)\.([0-9]{3})\].*/\1 \2/p' | head -n 1 |
  { read -r d t ms && echo $(($(date -d "$d $t" +%s) * 1000 + 10#$ms)); }; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

log "broker $bootstrap, work dir $work, topics $prefix.*"

parts=${PARTS:-1 2 3 4}
part() { [[ " $parts " == *" $1 "* ]]; }

# --- 1. throughput ----------------------------------------------------------------------------
if part 1 || part 2; then
config tp event-time
"$gen" --episodes "$EPISODES" --seed 2025 --quiet --out "$work/feed.jsonl"
events=$(wc -l <"$work/feed.jsonl")
"$samordna" produce --config "$work/tp.yaml" --file "$work/feed.jsonl" 2>"$work/produce.err"
log "loaded $events events ($EPISODES episodes, $(du -m "$work/feed.jsonl" | cut -f1) MB of JSON) into $prefix.tp.events"

# ROUNDS rounds, each: the transactional ceiling, the plain ceiling, the service; each with its own
# consumer group and output topics, over the same input. Medians are what is reported.
rate_of() { sed -nE 's/.*\(([0-9]+) records\/s\).*/\1/p' <<<"$1"; }
median() { LC_ALL=C sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
: >"$work/rates"
for ((r = 1; r <= ${ROUNDS:-3}; r++)); do
  sed -e "s/groupId: .*/groupId: $prefix-tp-$r/" \
      -e "s/\.tp\.\(notifications\|deadletter\|changelog\|episodes\)/.tp.r$r.\1/g" "$work/tp.yaml" >"$work/tp-$r.yaml"
  for mode in txn plain; do
    topics create "$prefix.tp.r$r.ceiling-$mode" --partitions 4 --replication-factor 1 >/dev/null
  done
  txn=$("$ceiling" --bootstrap "$bootstrap" --in "$prefix.tp.events" --out "$prefix.tp.r$r.ceiling-txn" \
    --group "$prefix-ceiling-txn-$r" --transactional-id "$prefix-ceiling-$r" \
    --max-batch "$MAX_BATCH" --max-batch-ms "$MAX_BATCH_MS")
  log "round $r: ceiling, $txn"
  plain=$("$ceiling" --bootstrap "$bootstrap" --in "$prefix.tp.events" --out "$prefix.tp.r$r.ceiling-plain" \
    --group "$prefix-ceiling-plain-$r" --plain --max-batch "$MAX_BATCH" --max-batch-ms "$MAX_BATCH_MS")
  log "round $r: ceiling, $plain"
  /usr/bin/time -f "%e s wall, %U s user, %S s sys, %M KB max RSS" -o "$work/run.time" \
    "$samordna" run --config "$work/tp-$r.yaml" --state-dir "$work/tp-$r" --instance-id "$prefix-tp-$r" \
    --exit-at-end -v 2>"$work/tp-$r.log"
  caught=$(grep -m1 'caught up' "$work/tp-$r.log")
  ms=$(sed -nE 's/.*caught up ([0-9]+) ms.*/\1/p' <<<"$caught")
  consumed=$(sed -nE 's/.* consumed ([0-9]+) .*/\1/p' <<<"$caught")
  notes=$(sed -nE 's/.* notifications ([0-9]+) .*/\1/p' <<<"$caught")
  fired=$(sed -nE 's/.* timers fired ([0-9]+) .*/\1/p' <<<"$caught")
  txns=$(sed -nE 's/.* transactions ([0-9]+).*/\1/p' <<<"$caught")
  rate=$((consumed * 1000 / ms))
  log "round $r: samordna run: $consumed events (+ $fired timers fired) in $ms ms = $rate events/s, $notes notifications, $txns transactions ($(cat "$work/run.time"))"
  echo "$rate $(rate_of "$txn") $(rate_of "$plain")" >>"$work/rates"
done
rate=$(cut -d' ' -f1 "$work/rates" | median)
txn_rate=$(cut -d' ' -f2 "$work/rates" | median)
plain_rate=$(cut -d' ' -f3 "$work/rates" | median)
awk -v r="$rate" -v t="$txn_rate" -v p="$plain_rate" -v n="$(wc -l <"$work/rates")" 'BEGIN {
  printf "THROUGHPUT (median of %d rounds) samordna run %d events/s; ceiling transactional %d records/s (ratio %.2f), plain %d records/s (ratio %.2f)\n", n, r, t, r / t, p, r / p }'

# The same replay by two instances in one consumer group, as scale is meant to come (partitions and
# groups, not threads): each takes two of the four partitions, one core each. Events per second from
# the first assignment either instance logs to the later "caught up"; the two together must consume
# every event once and issue the one instance's notifications.
if [[ ${TWO:-1} == 1 ]]; then
  sed -e "s/groupId: .*/groupId: $prefix-two/" \
      -e "s/\.tp\.\(notifications\|deadletter\|changelog\|episodes\)/.tp.two.\1/g" "$work/tp.yaml" >"$work/tp-two.yaml"
  two=()
  for i in a b; do
    /usr/bin/time -f "%U %S" -o "$work/two-$i.time" "$samordna" run --config "$work/tp-two.yaml" \
      --state-dir "$work/two-$i" --instance-id "$prefix-two-$i" --exit-at-end -v 2>"$work/two-$i.log" &
    two+=($!)
    pids+=($!)
  done
  wait "${two[@]}"
  first=$(for i in a b; do grep -m1 'assigned partition' "$work/two-$i.log" | log_ms; done | sort -n | head -n 1)
  last=$(for i in a b; do grep -m1 'caught up' "$work/two-$i.log" | log_ms; done | sort -n | tail -n 1)
  two_consumed=$(cat "$work"/two-?.log | sed -nE 's/.*caught up .* consumed ([0-9]+) .*/\1/p' | awk '{ s += $1 } END { print s }')
  two_notes=$(cat "$work"/two-?.log | sed -nE 's/.*caught up .* notifications ([0-9]+) .*/\1/p' | awk '{ s += $1 } END { print s }')
  two_cpu=$(cat "$work"/two-?.time | awk '{ c += $1 + $2 } END { print c }')
  log "two instances: consumed $two_consumed of $events events, $two_notes notifications (one instance: $notes), $two_cpu s CPU"
  [[ $two_consumed == "$events" && $two_notes == "$notes" ]] || echo "TWO INSTANCES: counts differ"
  awk -v e="$events" -v ms="$((last - first))" -v t="$txn_rate" -v p="$plain_rate" -v c="$two_cpu" 'BEGIN {
    r = e * 1000 / ms
    printf "TWO INSTANCES (one group) samordna run %d events/s, %.1f us CPU an event; ratio to the transactional ceiling %.2f, to the plain %.2f\n", r, c * 1e6 / e, r / t, r / p }'
fi

fi

# --- 2. restore -------------------------------------------------------------------------------
if part 2; then
"$samordna" run --config "$work/tp-1.yaml" --state-dir "$work/tp-b" --instance-id "$prefix-tp-b" \
  --exit-at-end -v 2>"$work/tp-b.log"
grep 'restored partition' "$work/tp-b.log" | sed 's/^.*\] //' | sed 's/^/  /' >&2
sed -nE 's/.*restored partition [0-9]+: ([0-9]+) changelog records .* in ([0-9]+) ms/\1 \2/p' "$work/tp-b.log" |
  awk -v ep="$EPISODES" '{ r += $1; t += $2; if ($2 > m) m = $2 }
    END { printf "RESTORE %d changelog records (%d episodes) over 4 partitions in %d ms, %.0f records/s; slowest partition %d ms\n", r, ep, t, r * 1000 / t, m }'

fi

# --- 3. recovery after SIGKILL with pending timers -----------------------------------------------
if part 3; then
config rc wall
# Each episode: admitted + needsAssessed an hour ago, so its deadlines lie most of a day ahead.
now=$(date -u +%s)
at=$(date -u -d "@$((now - 3600))" +%Y-%m-%dT%H:%M:%SZ)
feed() {  # FIRST COUNT TAG
  awk -v first="$1" -v n="$2" -v tag="$3" -v at="$at" 'BEGIN {
    split("195704289999 194608239986 200002292399", pnr, " ")
    for (i = first; i < first + n; i++) {
      ep = sprintf("%s-%07d", tag, i)
      printf "{\"eventId\":\"%s-1\",\"episodeId\":\"%s\",\"occurredAt\":\"%s\",\"admitted\":{\"patient\":{\"personalId\":\"%s\",\"name\":\"Test Person\",\"address\":\"Gatan 1, 753 20 Uppsala\",\"homeMunicipality\":\"0380\"},\"careUnit\":\"AVD1\",\"region\":\"03\",\"careType\":\"SOMATIC\"}}\n", ep, ep, at, pnr[i % 3 + 1]
      printf "{\"eventId\":\"%s-2\",\"episodeId\":\"%s\",\"occurredAt\":\"%s\",\"needsAssessed\":{\"needs\":[\"SOCIAL_SERVICES\"]}}\n", ep, ep, at
    }
  }'
}
feed 0 "$RECOVERY_EPISODES" rc >"$work/rc-feed.jsonl"
"$samordna" produce --config "$work/rc.yaml" --file "$work/rc-feed.jsonl" 2>"$work/rc-produce.err"
log "loaded $((2 * RECOVERY_EPISODES)) events ($RECOVERY_EPISODES episodes) into $prefix.rc.events; applying them"
# Wall clock, --exit-at-end: ends once the feed is applied (no timer is due for hours).
"$samordna" run --config "$work/rc.yaml" --state-dir "$work/rc" --instance-id "$prefix-rc" \
  --exit-at-end -v 2>"$work/rc-load.log"
log "applied: $(grep -m1 'caught up' "$work/rc-load.log" | sed 's/^.*\] //')"

# Live again, consuming a second feed, then SIGKILL in the middle of it.
"$samordna" run --config "$work/rc.yaml" --state-dir "$work/rc" --instance-id "$prefix-rc" \
  -vv 2>"$work/rc-live.log" &
pid=$!
pids+=("$pid")
until (($(grep -c 'assigned partition' "$work/rc-live.log") >= 4)); do sleep 0.2; done
feed "$RECOVERY_EPISODES" 100000 rc >"$work/rc-more.jsonl"
"$samordna" produce --config "$work/rc.yaml" --file "$work/rc-more.jsonl" 2>"$work/rc-more.err" &
pids+=("$!")
until (($(grep -cE 'committed transaction [0-9]+: events [1-9]' "$work/rc-live.log") >= 20)); do sleep 0.1; done
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
killed=$(now_ms)
log "SIGKILLed the live instance after $(grep -cE 'committed transaction' "$work/rc-live.log") transactions"

"$samordna" run --config "$work/rc.yaml" --state-dir "$work/rc" --instance-id "$prefix-rc" \
  -vv 2>"$work/rc-restart.log" &
pid=$!
pids+=("$pid")
until grep -qE 'committed transaction [0-9]+: events [1-9]' "$work/rc-restart.log"; do
  kill -0 "$pid" 2>/dev/null || { tail "$work/rc-restart.log" >&2; exit 1; }
  sleep 0.05
done
kill -TERM "$pid"
wait "$pid" || true
pending=$(sed -nE 's/.*state opened: about [0-9]+ episodes and ([0-9]+) pending timers.*/\1/p' "$work/rc-restart.log")
t_open=$(grep -m1 'state opened' "$work/rc-restart.log" | log_ms)
t_assigned=$(grep 'assigned partition' "$work/rc-restart.log" | tail -n 1 | log_ms)
t_restored=$(grep 'restored partition' "$work/rc-restart.log" | tail -n 1 | log_ms)
t_commit=$(grep -m1 -E 'committed transaction [0-9]+: events [1-9]' "$work/rc-restart.log" | log_ms)
grep -E 'state opened|restored partition' "$work/rc-restart.log" | sed 's/^.*\] /  /' >&2
echo "RECOVERY with about $pending pending timers: from the restart (right after the SIGKILL) to" \
  "the first committed transaction $((t_commit - killed)) ms: state opened at $((t_open - killed))," \
  "partitions assigned at $((t_assigned - killed)), restored at $((t_restored - killed))," \
  "first commit at $((t_commit - killed)) ms"
fi

# --- 4. notification latency after a deadline ---------------------------------------------------
# tests/integration/eos/live_timers.sh on the wall clock: LATENCY_DEADLINES deadlines, one a second,
# each read back by a read_committed consumer; it prints wall time read - issuedAt (fire time).
if part 4; then
  SAMORDNA_KAFKA_BOOTSTRAP=$bootstrap EOS_EPISODES=${LATENCY_DEADLINES:-40} \
    bash tests/integration/eos/live_timers.sh "$samordna" "$gen" "$root" >"$work/latency.log" 2>&1 ||
    { tail -n 20 "$work/latency.log" >&2; exit 1; }
  echo "LATENCY over ${LATENCY_DEADLINES:-40} deadlines, $(sed -nE 's/.*consumed wall time - issuedAt: (.*)/\1/p' "$work/latency.log")"
fi
