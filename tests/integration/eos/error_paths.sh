#!/usr/bin/env bash
# eos.error_paths: what the service does when things go wrong, each with an exact expected outcome.
#   a. poison records (not a protobuf Event) go to the deadletter topic (code malformed) and the valid
#      events behind them on the same partition are processed
#   b. a record whose key is not its event's episodeId: dead letter, code malformed
#   c. a zombie: a second instance with the same instance id fences the first, which exits 3 with
#      a message that says so; the output is still exactly simulate's
#   d. the broker (a private one, started here) stops mid-run and comes back: the output is still
#      exactly simulate's, whether the service rode it out or exited and was restarted
#   e. startup errors: unreachable bootstrap, a state dir in use, --no-create-topics with missing
#      topics, a broken rules file, a damaged state dir; each a non-zero exit and a message that
#      names the problem
# README.md in this folder; usage: error_paths.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR
# Environment: EOS_KEEP=1; EOS_PRIVATE_KAFKA_PORT (29092; the controller gets the next port).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
eos_init error_paths "$@"

base=$EOS_PREFIX
shared=$EOS_BOOTSTRAP
work=$EOS_WORK

# A scenario: its own topics/group (prefix) and config file; lib.sh's work dir and pid list.
scenario() {
  EOS_PREFIX=$base-$1
  EOS_CFG=$work/$1.yaml
  EOS_BOOTSTRAP=${2:-$shared}
  eos_log "--- $1"
}

# Checks c and d: a feed of EPISODES (seed SEED) in the scenario's topic, small transactions and
# fetches (so that what happens to the service lands in the middle of work), and a first instance
# started and given its 4 partitions a second ago (EOS_PID).
start_small_batches() {  # EPISODES SEED NAME STATE_DIR INSTANCE_ID
  eos_feed "$1" "$2" 0.002
  eos_config "maxBatch: 20"
  EOS_RUN_ARGS=(-X max.partition.fetch.bytes=8192)
  eos_load
  eos_start "$3" "$4" "$5"
  eos_wait_log "$EOS_WORK/$3.log" 'assigned partition' 4 60 "$EOS_PID"
  sleep 1
}

# The private broker of check d: its own data dir (in the work dir) and ports; stopped on exit,
# and its pid is listed so that the watchdog kills it if this shell is killed.
kport=${EOS_PRIVATE_KAFKA_PORT:-29092}
kafka_env=(KAFKA_DATA_DIR="$work/kafka" KAFKA_PORT="$kport" KAFKA_CONTROLLER_PORT="$((kport + 1))")
kafka_private() { env "${kafka_env[@]}" bash "$EOS_KAFKA_SH" "$@"; }
kafka_started=0
cleanup() {
  local rc=$?
  if ((kafka_started)); then kafka_private stop >"$work/kafka-stop.log" 2>&1 || true; fi
  set +e   # else errexit ends this trap at the next line when rc != 0, before eos_cleanup
  (exit "$rc")
  eos_cleanup
}
trap cleanup EXIT
if (exec 3<>"/dev/tcp/127.0.0.1/$kport") 2>/dev/null; then
  eos_fail "port $kport is in use: set EOS_PRIVATE_KAFKA_PORT to a free port"
fi
# Started now, in the background (its startup overlaps checks e, a, b and c).
kafka_started=1
kafka_private start >"$work/kafka-start.log" 2>&1 &
kafka_start_pid=$!

# ---------------------------------------------------------------- e. startup errors (1 of 4)
scenario e
eos_config
# Unreachable bootstrap, in the background (it takes the service's 30 s connect limit).
e1_t0=$(date +%s)
"$SAMORDNA" run --config "$EOS_CFG" --bootstrap 127.0.0.1:1 --state-dir "$work/e1-state" \
  >"$work/e1-unreachable.log" 2>&1 </dev/null &
e1_pid=$!
echo "$e1_pid" >>"$work/pids"

# --no-create-topics, none of the four topics exists: exit 2 naming each.
rc=0
"$SAMORDNA" run --config "$EOS_CFG" --no-create-topics --state-dir "$work/e3-state" \
  >"$work/e3-no-create.log" 2>&1 </dev/null || rc=$?
((rc == 2)) || eos_fail "e: --no-create-topics with missing topics exited $rc, not 2: $(tail -n 2 "$work/e3-no-create.log")"
for t in events notifications deadletter changelog episodes; do
  grep -q "missing Kafka topic.*$EOS_PREFIX\\.$t" "$work/e3-no-create.log" ||
    eos_fail "e: --no-create-topics: the message does not name $EOS_PREFIX.$t: $(tail -n 1 "$work/e3-no-create.log")"
done
eos_log "e: --no-create-topics: exit 2, $(tail -n 1 "$work/e3-no-create.log" | cut -c 1-120)..."

# A broken rules file: exit 2 and file:line.
cp -r "$EOS_SOURCE/rules/sets" "$work/rules-bad"
bad_file=$(cd "$work/rules-bad" && grep -l '^ruleSets:' ./*.yaml | head -n 1)
bad_file=${bad_file#./}
[[ -n $bad_file ]] || eos_fail "e: no rules file with a top-level ruleSets: to break"
bad_line=$(grep -n '^ruleSets:' "$work/rules-bad/$bad_file" | head -n 1 | cut -d: -f1)
sed -i "${bad_line}s/\$/ : [unclosed/" "$work/rules-bad/$bad_file"
rc=0
"$SAMORDNA" run --config "$EOS_CFG" --rules "$work/rules-bad" --state-dir "$work/e4-state" \
  >"$work/e4-rules.log" 2>&1 </dev/null || rc=$?
((rc == 2)) || eos_fail "e: a broken rules file exited $rc, not 2: $(tail -n 2 "$work/e4-rules.log")"
grep -qF "$bad_file:$bad_line:" "$work/e4-rules.log" ||
  eos_fail "e: the rules error does not name $bad_file:$bad_line: $(tail -n 2 "$work/e4-rules.log")"
eos_log "e: broken rules: exit 2, $(grep -F "$bad_file:$bad_line:" "$work/e4-rules.log" | head -n 1)"

# A damaged state dir: a RocksDB MANIFEST overwritten with junk. Exit 2, the error names the state
# dir, and the advice says the changelog can restore it.
"$SAMORDNA" simulate --rules "$EOS_SOURCE/rules/sets" --events /dev/null --state-dir "$work/e5-state" \
  >/dev/null 2>&1 || eos_fail "e: could not make a state dir to damage"
for m in "$work"/e5-state/MANIFEST-*; do head -c 100 /dev/urandom >"$m"; done
rc=0
"$SAMORDNA" run --config "$EOS_CFG" --state-dir "$work/e5-state" >"$work/e5-corrupt.log" 2>&1 </dev/null || rc=$?
((rc == 3)) || eos_fail "e: a damaged state dir exited $rc, not 3: $(tail -n 2 "$work/e5-corrupt.log")"
grep -qF "samordna: state dir $work/e5-state: " "$work/e5-corrupt.log" ||
  eos_fail "e: the damaged state dir's error does not name it: $(head -n 1 "$work/e5-corrupt.log")"
grep -q 'move it aside and start again' "$work/e5-corrupt.log" ||
  eos_fail "e: no advice to restore a damaged state dir from the changelog: $(tail -n 1 "$work/e5-corrupt.log")"
eos_log "e: damaged state dir: exit 3, $(head -n 1 "$work/e5-corrupt.log" | cut -c 1-140)..."

# ---------------------------------------------------------------- a, b. poison and wrong keys
scenario ab
eos_feed 40 4101
eos_config
EOS_TOPICS_MADE=1
eos_topics create "$EOS_PREFIX.events" --if-not-exists --partitions 4 --replication-factor 1 \
  >"$work/topics.log" 2>&1 || { cat "$work/topics.log" >&2; eos_fail "cannot create $EOS_PREFIX.events"; }
mapfile -t eps < <(sed -nE 's/.*"episodeId":"([^"]*)".*/\1/p' "$work/feed.jsonl" | awk '!s[$0]++' | head -n 3)
((${#eps[@]} == 3)) || eos_fail "the feed has fewer than 3 episodes"
# Before any valid event, with the keys of real episodes (so on their partitions: the Java producer
# and samordna's both partition by murmur2 of the key):
#   a. two values that are not protobuf at all
#      and two that protobuf decodes as an Event with nothing set: an empty record, and "*\x03abc"
#      (field 5, unknown to Event, length 3)
#   b. a valid protobuf Event (field 2, episodeId = "ep-zz") under another episode's key.
#      \x12\x05 is field 2's tag and length: printable enough for the line-based console producer.
printf '%s:this is not protobuf\n%s:this is not protobuf\n%s:\n%s:*\x03abc\n%s:\x12\x05ep-zz\n' \
  "${eps[0]}" "${eps[1]}" "${eps[0]}" "${eps[1]}" "${eps[2]}" >"$work/poison.txt"
bash "$EOS_KAFKA_SH" tool kafka.tools.ConsoleProducer --bootstrap-server "$EOS_BOOTSTRAP" \
  --topic "$EOS_PREFIX.events" --property parse.key=true --property key.separator=: \
  --producer-property acks=all <"$work/poison.txt" >"$work/poison-produce.log" 2>&1 ||
  { cat "$work/poison-produce.log" >&2; eos_fail "the console producer failed"; }
"$SAMORDNA" produce --config "$EOS_CFG" --file "$work/feed.jsonl" 2>"$work/produce.err" ||
  { cat "$work/produce.err" >&2; eos_fail "samordna produce failed"; }
{
  printf '{"episodeId":"%s","code":"malformed","reason":"not a samordna.v1.Event protobuf"}\n' "${eps[0]}" "${eps[1]}"
  printf '{"episodeId":"%s","code":"malformed","reason":"an empty record is not a samordna.v1.Event"}\n' "${eps[0]}"
  printf '{"episodeId":"%s","code":"malformed","reason":"decodes as protobuf but has no episodeId: not a samordna.v1.Event"}\n' "${eps[1]}"
  printf '{"episodeId":"%s","code":"malformed","reason":"the message key is not the event'"'"'s episodeId"}\n' "${eps[2]}"
  cat "$work/simulate.err"   # the feed's own rejections (out-of-order events), if any
} >"$work/expected-deadletter.jsonl"
EOS_EXPECTED_DL=$(wc -l <"$work/expected-deadletter.jsonl")
eos_start ab "$work/ab-state" "$EOS_PREFIX-a"
ab_pid=$EOS_PID
eos_wait_output 60 "$ab_pid"

# e (2 of 4): a state dir in use by a running instance (ab's): exit non-zero, "in use".
rc=0
"$SAMORDNA" run --config "$EOS_CFG" --state-dir "$work/ab-state" --instance-id "$EOS_PREFIX-other" \
  >"$work/e2-locked.log" 2>&1 </dev/null || rc=$?
((rc != 0)) || eos_fail "e: a second instance on a state dir in use exited 0"
grep -q 'state dir is in use' "$work/e2-locked.log" ||
  eos_fail "e: a state dir in use: no 'state dir is in use' in: $(tail -n 2 "$work/e2-locked.log")"
eos_alive "$ab_pid" || eos_fail "e: the instance that holds the state dir died when a second one tried it"
eos_log "e: state dir in use: exit $rc, $(grep -o 'the state dir is in use[^;]*' "$work/e2-locked.log" | head -n 1)"

sleep 2
eos_stop "$ab_pid"
eos_check
# The poison was on the same partitions as the valid events after it: the dead letters' source
# partitions are those of episodes whose notifications are all there (checked by eos_check).
eos_log "a, b: 2 non-protobuf records, an empty one, one with no episodeId and 1 wrong-key record dead-lettered (malformed); every valid event after them processed"

# ---------------------------------------------------------------- c. a zombie is fenced
scenario c
start_small_batches 600 4202 c-a "$work/c-state-a" "$EOS_PREFIX-x"
a_pid=$EOS_PID
eos_alive "$a_pid" || eos_fail "c: A exited before B started"
c_t0=$SECONDS
# Same instance id (transactional id), another state dir: another machine that took A's identity.
eos_start c-b "$work/c-state-b" "$EOS_PREFIX-x"
b_pid=$EOS_PID
while eos_alive "$a_pid"; do
  ((SECONDS - c_t0 < 30)) || eos_fail "c: the fenced instance A still runs 30 s after B started"
  sleep 0.2
done
rc=0
wait "$a_pid" || rc=$?
((rc == 3)) || eos_fail "c: the fenced instance exited $rc, not 3"
grep -q '^samordna: .*fenced' "$work/c-a.log" ||
  eos_fail "c: the fenced instance's last words do not say it was fenced: $(tail -n 2 "$work/c-a.log")"
eos_log "c: A exited 3 after $((SECONDS - c_t0)) s: $(grep '^samordna: .*fenced' "$work/c-a.log" | head -n 1 | cut -c 1-150)"
eos_wait_output 90 "$b_pid"
sleep 2
eos_stop "$b_pid"
eos_check
EOS_RUN_ARGS=()

# ---------------------------------------------------------------- e (3 of 4): unreachable
rc=0
wait "$e1_pid" || rc=$?
e1_took=$(($(stat -c %Y "$work/e1-unreachable.log") - e1_t0))   # its last write: the exit
((rc != 0)) || eos_fail "e: an unreachable bootstrap exited 0"
grep -q '^samordna: .*127\.0\.0\.1:1\b' "$work/e1-unreachable.log" ||
  eos_fail "e: the unreachable-bootstrap message does not name 127.0.0.1:1: $(tail -n 1 "$work/e1-unreachable.log")"
((e1_took <= 45)) ||
  eos_fail "e: the unreachable bootstrap took $e1_took s to fail (allowed: 45)"
eos_log "e: unreachable bootstrap: exit $rc within ${e1_took} s (started in the background), $(grep '^samordna:' "$work/e1-unreachable.log" | tail -n 1)"

# ---------------------------------------------------------------- d. the broker stops and returns
rc=0
wait "$kafka_start_pid" || rc=$?
((rc == 0)) || { cat "$work/kafka-start.log" >&2; eos_fail "d: the private broker did not start"; }
private=127.0.0.1:$kport
kpid=$(cat "$work/kafka/kafka.pid")
echo "$kpid" >>"$work/pids"
scenario d "$private"
start_small_batches 800 4303 d-run1 "$work/d-state" "$EOS_PREFIX-a"
d_pid=$EOS_PID
d_lines=$(wc -l <"$work/d-run1.log")
eos_log "d: stopping the private broker mid-run (1 s after the service had its 4 partitions)"
kafka_private stop >>"$work/kafka-stop.log" 2>&1 || eos_fail "d: kafka.sh stop failed"
sleep 5
kafka_private start >>"$work/kafka-start.log" 2>&1 || eos_fail "d: the private broker did not start again"
kpid=$(cat "$work/kafka/kafka.pid")
echo "$kpid" >>"$work/pids"
eos_log "d: the private broker is back"
# Give the service a moment to notice either way.
sleep 3
d_path="rode it out (no exit)"
n=1
if ! eos_alive "$d_pid"; then
  rc=0
  wait "$d_pid" || rc=$?
  ((rc != 0)) || eos_fail "d: the service exited 0 while the broker was away"
  d_path="exited $rc ($(grep '^samordna:' "$work/d-run1.log" | tail -n 1 | cut -c 1-150)), restarted"
fi
# If it exits (now or later), restart it as a supervisor would, at most 3 times.
until_t=$((SECONDS + 120))
while :; do
  cnt=$(eos_consume "$EOS_PREFIX.notifications" /dev/stdout --max "$EOS_EXPECTED" --timeout-ms 2000 2>/dev/null | wc -l) || cnt=0
  ((cnt >= EOS_EXPECTED)) && break
  ((SECONDS < until_t)) || eos_fail "d: only $cnt of $EOS_EXPECTED notifications after the broker's return"
  if ! eos_alive "$d_pid"; then
    rc=0
    wait "$d_pid" || rc=$?
    ((rc != 0)) || eos_fail "d: the service exited 0 before the output was complete"
    [[ $d_path == rode* ]] && d_path="exited $rc later ($(grep '^samordna:' "$work/d-run$n.log" | tail -n 1 | cut -c 1-150)), restarted"
    ((n < 4)) || eos_fail "d: the service exited $n times"
    n=$((n + 1))
    eos_start "d-run$n" "$work/d-state" "$EOS_PREFIX-a"
    d_pid=$EOS_PID
  fi
  sleep 1
done
eos_log "all $EOS_EXPECTED notifications committed"
sleep 2
eos_stop "$d_pid"
eos_check
# The service saw the outage (librdkafka's connection errors in its log after the stop).
outage=$(tail -n +"$((d_lines + 1))" "$work/d-run1.log" | grep -cE 'Connect to .*failed|Connection refused|Disconnected|all brokers are down|_TRANSPORT' || true)
((outage > 0)) || eos_fail "d: no connection error in d-run1.log after the broker stopped: did the outage happen?"
eos_log "d: the service $d_path ($outage connection error lines while the broker was away); runs: $n"

# Every scenario's topics (the shared broker's; the private broker goes with the work dir).
if [[ ${EOS_KEEP:-0} != 1 ]]; then
  EOS_BOOTSTRAP=$shared
  eos_topics delete "^${base}-.*" >/dev/null 2>&1 || true
fi
EOS_TOPICS_MADE=0
EOS_OK=1
