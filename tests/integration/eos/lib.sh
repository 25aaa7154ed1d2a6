# shellcheck shell=bash
# tests/integration/eos/lib.sh: the toolbox of the exactly-once tests (README.md), sourced by each.
#
#   eos_init NAME SAMORDNA SAMORDNA_GEN SOURCE_DIR   skip (77) without a broker; work dir, names, traps
#   eos_feed EPISODES SEED [EMIT_INVALID]            feed.jsonl, expected.jsonl, expected-deadletter.txt
#   eos_config [YAML LINES...]                        cfg.yaml (the validated config, plus extra keys;
#                                                     EOS_CLOCK=wall leaves out the replay clock,
#                                                     EOS_CLOCK=open its `until`)
#   eos_load                                          events topic + the whole feed in it
#   eos_load_paced BURST RATE / eos_load_wait         the same in the background, paced; its end
#   eos_start NAME STATE_DIR INSTANCE_ID              `samordna run -v` in the background -> EOS_PID
#                                                     (plus the array EOS_RUN_ARGS, if set)
#   eos_wait_log LOG REGEX COUNT SECONDS PID          until LOG has COUNT matching lines
#   eos_wait_output SECONDS PID...                    until the committed output has every notification
#   eos_kill PID / eos_stop PID                       SIGKILL (reaped) / SIGTERM, which must exit 0
#   eos_read_output                                   notifications.jsonl, deadletter.jsonl (read_committed)
#   eos_check                                         read_committed output == simulate, dead letters too
#   eos_check_uncommitted WHY_NONE                    aborted records exist and are caught as duplicates
#   eos_selfcheck                                     the comparison must catch doctored output
#
# Every samordna process started here is killed on exit (trap, and a watchdog in case this shell is
# killed first). On success the work dir and the test's topics are deleted; on failure both stay
# and their names are printed. EOS_KEEP=1 keeps them always.

set -euo pipefail

eos_log() { printf '[%s +%3ds] %s\n' "$EOS_NAME" $((SECONDS - EOS_T0)) "$*"; }
eos_fail() {
  printf '[%s +%3ds] FAIL: %s\n' "$EOS_NAME" $((SECONDS - EOS_T0)) "$*" >&2
  exit 1
}

eos_init() {
  EOS_NAME=$1
  SAMORDNA=$2
  SAMORDNA_GEN=$3
  EOS_SOURCE=$(cd "$4" && pwd)   # absolute: the config file resolves relative paths from its own folder
  EOS_T0=$SECONDS
  if [[ -z ${SAMORDNA_KAFKA_BOOTSTRAP:-} ]]; then
    echo "$EOS_NAME: skipped: SAMORDNA_KAFKA_BOOTSTRAP is not set" \
         "(export SAMORDNA_KAFKA_BOOTSTRAP=\$(deploy/kafka/kafka.sh start))"
    exit 77
  fi
  EOS_BOOTSTRAP=$SAMORDNA_KAFKA_BOOTSTRAP
  [[ -x $SAMORDNA ]] || eos_fail "no samordna binary at $SAMORDNA"
  [[ -x $SAMORDNA_GEN ]] || eos_fail "no samordna_gen binary at $SAMORDNA_GEN"
  [[ -d $EOS_SOURCE/rules/sets ]] || eos_fail "no rules/sets under $EOS_SOURCE"
  EOS_KAFKA_SH=$EOS_SOURCE/deploy/kafka/kafka.sh

  # Unique per run: topics, consumer group and transactional ids all derive from it.
  EOS_PREFIX="eos-${EOS_NAME}-$$-$(date +%Y%m%d%H%M%S)"
  EOS_WORK=$(mktemp -d "${TMPDIR:-/tmp}/samordna-${EOS_PREFIX}.XXXX")
  EOS_CFG=$EOS_WORK/cfg.yaml
  EOS_OK=0
  EOS_TOPICS_MADE=0
  : >"$EOS_WORK/pids"
  trap eos_cleanup EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
  # If this shell is SIGKILLed (a ctest timeout kills the tree anyway), the watchdog still ends the
  # services it started; it checks the command line so that a reused pid is never hit.
  (
    while kill -0 $$ 2>/dev/null; do sleep 2; done
    eos_kill_listed
  ) </dev/null >/dev/null 2>&1 &
  EOS_WATCHDOG=$!
  eos_log "work dir $EOS_WORK, prefix $EOS_PREFIX, broker $EOS_BOOTSTRAP"
}

eos_kill_listed() {
  local pid
  while read -r pid; do
    [[ -n $pid && -r /proc/$pid/cmdline ]] || continue
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$EOS_WORK"; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done <"$EOS_WORK/pids"
}

eos_cleanup() {
  local rc=$?
  trap - EXIT TERM INT
  set +e
  eos_kill_listed
  kill "$EOS_WATCHDOG" 2>/dev/null
  wait 2>/dev/null
  if ((rc == 0 && EOS_OK)); then
    if [[ ${EOS_KEEP:-0} == 1 ]]; then
      eos_log "PASS (EOS_KEEP=1: work dir $EOS_WORK and topics $EOS_PREFIX.* kept)"
    else
      if ((EOS_TOPICS_MADE)); then eos_topics delete "^${EOS_PREFIX}\\..*" >/dev/null 2>&1; fi
      rm -rf "$EOS_WORK"
      eos_log "PASS"
    fi
  else
    ((rc == 0)) && rc=1
    {
      echo "[$EOS_NAME] artifacts (logs, diffs, feed, config) kept in: $EOS_WORK"
      echo "[$EOS_NAME] topics kept: ${EOS_PREFIX}.{events,notifications,deadletter,changelog,episodes}"
      local f
      for f in "$EOS_WORK"/*.log; do
        [[ -f $f ]] || continue
        echo "---- tail of $f"
        tail -n 15 "$f"
      done
    } >&2
  fi
  exit "$rc"
}

# Kafka's TopicCommand against the broker under test (any address: kafka.sh's own `topics`
# subcommand only knows its local broker).
eos_topics() {
  local op=$1 topic=$2
  shift 2
  bash "$EOS_KAFKA_SH" tool org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$EOS_BOOTSTRAP" "--$op" --topic "$topic" "$@"
}

# --- the feed and what simulate says about it ---------------------------------------------------

EOS_UNTIL=2027-01-01T00:00:00Z

eos_feed() {
  local episodes=$1 seed=$2 invalid=${3:-0}
  local gen=("$SAMORDNA_GEN" --episodes "$episodes" --seed "$seed" --quiet --out "$EOS_WORK/feed.jsonl")
  [[ $invalid == 0 ]] || gen+=(--emit-invalid "$invalid")
  "${gen[@]}" || eos_fail "samordna_gen failed"
  EOS_EVENTS=$(wc -l <"$EOS_WORK/feed.jsonl")
  local rc=0
  "$SAMORDNA" simulate --rules "$EOS_SOURCE/rules/sets" --events "$EOS_WORK/feed.jsonl" \
    --until "$EOS_UNTIL" >"$EOS_WORK/expected.jsonl" 2>"$EOS_WORK/simulate.err" || rc=$?
  # 1: some lines were rejected (they become dead letters in the service); anything else is trouble.
  ((rc == 0 || rc == 1)) || eos_fail "samordna simulate exited $rc (see simulate.err)"
  EOS_EXPECTED=$(wc -l <"$EOS_WORK/expected.jsonl")
  ((EOS_EXPECTED > 0)) || eos_fail "simulate produced no notifications"
  eos_log "feed: $episodes episodes, seed $seed, $EOS_EVENTS lines; simulate: $EOS_EXPECTED notifications, $(wc -l <"$EOS_WORK/simulate.err") rejected lines"
}

# The fields a rejection and its dead letter share: episode id, code, reason (one tab-separated
# line each). simulate's stderr names the episode episodeId, a dead letter its key.
eos_rejection_tuples() {  # FILE KEYFIELD
  awk -v key="$2" '{
      k = ""; r = ""
      if (match($0, "\"" key "\":\"[^\"]*\"")) k = substr($0, RSTART + length(key) + 4, RLENGTH - length(key) - 5)
      if (match($0, /"reason":"([^"\\]|\\.)*"/)) r = substr($0, RSTART + 10, RLENGTH - 11)
      c = ""
      if (match($0, /"code":"[^"]*"/)) c = substr($0, RSTART + 8, RLENGTH - 9)
      print k "\t" c "\t" r
    }' "$1" | LC_ALL=C sort
}

# --- config, topics, feed in Kafka --------------------------------------------------------------

eos_config() {
  {
    cat <<EOF
kafka:
  bootstrap: $EOS_BOOTSTRAP
  groupId: $EOS_PREFIX
  partitions: 4
  topics: {events: $EOS_PREFIX.events, notifications: $EOS_PREFIX.notifications, deadletter: $EOS_PREFIX.deadletter, changelog: $EOS_PREFIX.changelog, episodes: $EOS_PREFIX.episodes}
stateDir: $EOS_WORK/state
rulesDir: $EOS_SOURCE/rules/sets
EOF
    # Replay on the feed's own time unless EOS_CLOCK=wall (live timers). EOS_CLOCK=open: event
    # time without `until`, for a feed still arriving (`until` applies when a partition reaches its
    # end, and a paced feed reaches it many times).
    case ${EOS_CLOCK:-event-time} in
      event-time) printf 'clock: event-time\nuntil: %s\n' "$EOS_UNTIL" ;;
      open) printf 'clock: event-time\n' ;;
    esac
    local line
    for line in "$@"; do echo "$line"; done
  } >"$EOS_CFG"
}

# The events topic, then the WHOLE feed into it before any service starts (event-time replay
# applies `until` when a partition reaches its end). The service creates the other three topics.
eos_load_topic() {
  EOS_TOPICS_MADE=1
  eos_topics create "$EOS_PREFIX.events" --if-not-exists --partitions 4 --replication-factor 1 \
    >"$EOS_WORK/topics.log" 2>&1 || { cat "$EOS_WORK/topics.log" >&2; eos_fail "cannot create $EOS_PREFIX.events"; }
}

eos_load() {
  eos_load_topic
  local rc=0
  "$SAMORDNA" produce --config "$EOS_CFG" --file "$EOS_WORK/feed.jsonl" \
    ${EOS_PRODUCE_ARGS[@]+"${EOS_PRODUCE_ARGS[@]}"} 2>"$EOS_WORK/produce.err" || rc=$?
  eos_load_expect "$rc"
}

# eos_load_paced BURST RATE: eos_load in the background, the feed arriving as it would from a
# hospital while the service runs: the first BURST lines at once, the rest at RATE lines a second.
# A replay of a loaded topic ends in well under a second on a fast service; a paced one lasts as
# long as the test needs to stop the service inside a transaction, on any machine. eos_load_wait
# waits for the producer (every line durable) and sets the expectations as eos_load does. Until
# then, services run with EOS_CLOCK=open; the one started after eos_load_wait with `until` ends the
# replay as simulate does.
eos_load_paced() {
  local burst=$1 rate=$2
  eos_load_topic
  "$SAMORDNA" produce --config "$EOS_CFG" --file - \
    ${EOS_PRODUCE_ARGS[@]+"${EOS_PRODUCE_ARGS[@]}"} 2>"$EOS_WORK/produce.err" \
    < <(python3 -c '
import sys, time
burst, rate = int(sys.argv[1]), float(sys.argv[2])
out = sys.stdout
t0 = None
with open(sys.argv[3]) as feed:
    for n, line in enumerate(feed, 1):
        out.write(line)
        if n == burst:
            out.flush()
            t0 = time.monotonic()
        elif t0 is not None and n % 50 == 0:
            out.flush()
            ahead = t0 + (n - burst) / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
out.flush()
' "$burst" "$rate" "$EOS_WORK/feed.jsonl") &
  EOS_LOAD_PID=$!
  echo "$EOS_LOAD_PID" >>"$EOS_WORK/pids"
  eos_log "loading $EOS_PREFIX.events in the background: $burst lines, then $rate lines a second"
}

eos_load_wait() {
  local rc=0
  wait "$EOS_LOAD_PID" || rc=$?
  eos_load_expect "$rc"
}

# Expected dead letters: simulate's rejections, less the lines produce already refused.
eos_load_expect() {
  local rc=$1
  # 1 (rejected): lines that are not Event JSON never reach Kafka (malformed, --emit-invalid).
  ((rc == 0 || rc == 1)) || { cat "$EOS_WORK/produce.err" >&2; eos_fail "samordna produce exited $rc"; }
  sed -nE 's/^\{.*"line":([0-9]+).*/\1/p' "$EOS_WORK/produce.err" \
    | sort -u >"$EOS_WORK/produce-refused.lines"
  # FILENAME, not NR == FNR: that test also holds all through the second file when the first is
  # empty (a feed with no malformed lines), and every expected dead letter would be dropped.
  awk 'FILENAME == ARGV[1] { refused[$1] = 1; next }
       match($0, /"line":[0-9]+/) { if (!(substr($0, RSTART + 7, RLENGTH - 7) in refused)) print }' \
    "$EOS_WORK/produce-refused.lines" "$EOS_WORK/simulate.err" >"$EOS_WORK/expected-deadletter.jsonl"
  EOS_EXPECTED_DL=$(wc -l <"$EOS_WORK/expected-deadletter.jsonl")
  eos_log "loaded $EOS_PREFIX.events ($(wc -l <"$EOS_WORK/produce-refused.lines") lines refused by produce); expecting $EOS_EXPECTED notifications, $EOS_EXPECTED_DL dead letters"
}

# --- processes ----------------------------------------------------------------------------------

eos_alive() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n $st && $st != Z* ]]
}

# eos_start NAME STATE_DIR INSTANCE_ID: logs to $EOS_WORK/NAME.log, pid in EOS_PID.
# Waits until PID has stopped itself (SIGSTOP, ServiceConfig::stop_in_commit: ps shows T); fails
# the test if it exits first or has not stopped within 60 s.
eos_wait_stopped() {
  local pid=$1 st i
  for ((i = 0; i < 600; i++)); do
    st=$(ps -o stat= -p "$pid" 2>/dev/null) || eos_fail "pid $pid exited where it was to stop itself"
    [[ $st == T* ]] && return 0
    sleep 0.1
  done
  eos_fail "pid $pid did not stop itself within 60 s (state $st)"
}

eos_start() {
  local name=$1 state=$2 id=$3
  "$SAMORDNA" run --config "$EOS_CFG" --state-dir "$state" --instance-id "$id" -v \
    ${EOS_RUN_ARGS[@]+"${EOS_RUN_ARGS[@]}"} >"$EOS_WORK/$name.log" 2>&1 </dev/null &
  EOS_PID=$!
  echo "$EOS_PID" >>"$EOS_WORK/pids"
  eos_log "started $name (pid $EOS_PID, instance $id, state $(basename "$state"))"
}

# 0 when LOG has COUNT lines matching REGEX; fails the test if PID exits first or time runs out.
eos_wait_log() {
  local log=$1 regex=$2 count=$3 limit=$4 pid=$5
  local until=$((SECONDS + limit)) seen
  # grep -c prints nothing for a log not yet created: that is 0 lines, not a syntax error (which
  # ended the loop at once, as if the lines were there).
  while seen=$(grep -cE -- "$regex" "$log" 2>/dev/null) || true; ((${seen:-0} < count)); do
    eos_alive "$pid" || eos_fail "pid $pid exited while waiting for '$regex' in $(basename "$log")"
    ((SECONDS < until)) || eos_fail "no $count× '$regex' in $(basename "$log") after ${limit}s"
    sleep 0.1
  done
}

eos_kill() {
  local pid=$1
  eos_alive "$pid" || eos_fail "pid $pid was already gone when it was to be killed (crashed?)"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
}

# SIGTERM: the open transaction is committed, the consumer closed, exit 0.
eos_stop() {
  local pid=$1 rc=0 i
  eos_alive "$pid" || eos_fail "pid $pid had exited before the SIGTERM"
  kill -TERM "$pid"
  for ((i = 0; i < 600; i++)); do
    eos_alive "$pid" || break
    sleep 0.1
  done
  eos_alive "$pid" && eos_fail "pid $pid still running 60s after SIGTERM"
  wait "$pid" || rc=$?
  ((rc == 0)) || eos_fail "clean shutdown (SIGTERM) of pid $pid exited $rc, not 0"
  eos_log "pid $pid stopped cleanly (exit 0)"
}

# --- the output ---------------------------------------------------------------------------------

eos_consume() {  # TOPIC OUT [consume args...]
  local topic=$1 out=$2
  shift 2
  "$SAMORDNA" consume --config "$EOS_CFG" --topic "$topic" --from-beginning "$@" >"$out"
}

# Polls the committed notifications until there are as many as simulate wrote. Fails when time
# runs out or when every one of the PIDs has exited.
eos_wait_output() {
  local limit=$1
  shift
  local until=$((SECONDS + limit)) n=0 pid any
  while :; do
    n=$(eos_consume "$EOS_PREFIX.notifications" /dev/stdout --max "$EOS_EXPECTED" --timeout-ms 2000 \
          2>/dev/null | wc -l) || n=0
    ((n >= EOS_EXPECTED)) && break
    any=0
    for pid in "$@"; do eos_alive "$pid" && any=1; done
    ((any)) || eos_fail "every service exited with $n of $EOS_EXPECTED notifications committed"
    ((SECONDS < until)) || eos_fail "only $n of $EOS_EXPECTED notifications committed after ${limit}s"
    sleep 1
  done
  eos_log "all $EOS_EXPECTED notifications committed"
}

# eos_compare EXPECTED GOT NAME: 0 when GOT holds exactly EXPECTED's lines (any order), every
# notificationId once. Otherwise reports what differs and leaves NAME.diff in the work dir.
eos_compare() {
  local exp=$1 got=$2 name=$3 rc=0 d=$EOS_WORK
  LC_ALL=C sort "$exp" >"$d/$name.expected.sorted"
  LC_ALL=C sort "$got" >"$d/$name.got.sorted"
  grep -o '^{"notificationId":"[^"]*"' "$got" | cut -d'"' -f4 | LC_ALL=C sort >"$d/$name.got.ids" || true
  grep -o '^{"notificationId":"[^"]*"' "$exp" | cut -d'"' -f4 | LC_ALL=C sort >"$d/$name.expected.ids" || true
  if (($(wc -l <"$d/$name.got.ids") != $(wc -l <"$got"))); then
    echo "$name: $(($(wc -l <"$got") - $(wc -l <"$d/$name.got.ids"))) line(s) without a leading notificationId"
    rc=1
  fi
  LC_ALL=C uniq -d "$d/$name.got.ids" >"$d/$name.duplicate.ids"
  if [[ -s $d/$name.duplicate.ids ]]; then
    echo "$name: $(wc -l <"$d/$name.duplicate.ids") notificationId(s) more than once (duplicates), e.g.:"
    head -n 10 "$d/$name.duplicate.ids" | sed 's/^/    /'
    rc=1
  fi
  LC_ALL=C comm -23 <(LC_ALL=C uniq "$d/$name.expected.ids") <(LC_ALL=C uniq "$d/$name.got.ids") >"$d/$name.missing.ids"
  LC_ALL=C comm -13 <(LC_ALL=C uniq "$d/$name.expected.ids") <(LC_ALL=C uniq "$d/$name.got.ids") >"$d/$name.extra.ids"
  if [[ -s $d/$name.missing.ids ]]; then
    echo "$name: $(wc -l <"$d/$name.missing.ids") notification(s) missing, e.g.:"
    head -n 10 "$d/$name.missing.ids" | sed 's/^/    /'
    rc=1
  fi
  if [[ -s $d/$name.extra.ids ]]; then
    echo "$name: $(wc -l <"$d/$name.extra.ids") notification(s) simulate never wrote, e.g.:"
    head -n 10 "$d/$name.extra.ids" | sed 's/^/    /'
    rc=1
  fi
  # Each episode's notifications in simulate's order: they share a partition, whose order a reader
  # sees (the service holds a transaction's records until its commit and orders them there).
  if ! eos_episode_order "$exp" "$got" >"$d/$name.order"; then
    echo "$name: $(head -n 1 "$d/$name.order")"
    sed -n '2,6p' "$d/$name.order" | sed 's/^/    /'
    rc=1
  fi
  if ! diff "$d/$name.expected.sorted" "$d/$name.got.sorted" >"$d/$name.diff"; then
    echo "$name: output differs from simulate byte for byte ($(grep -c '^[<>]' "$d/$name.diff") line(s)): $d/$name.diff"
    rc=1
  else
    rm -f "$d/$name.diff"
  fi
  ((rc == 0)) || return 1
  rm -f "$d/$name".{expected,got}.sorted "$d/$name".{got,expected,duplicate,missing,extra}.ids "$d/$name.order"
}

# Exit 1 when an episode's notifications in GOT (in file order: a topic's partitions each in their
# order) are simulate's (EXPECTED) but in another order, with the count and a few episodes. Episodes
# whose notifications differ otherwise are eos_compare's other checks'.
eos_episode_order() {  # EXPECTED GOT
  python3 - "$1" "$2" <<'PY'
import collections, json, sys
def by_episode(path):
    out = collections.defaultdict(list)
    for line in open(path, encoding="utf-8"):
        try:
            n = json.loads(line)
        except ValueError:
            continue
        out[n.get("episodeId", "")].append(n.get("notificationId", ""))
    return out
want, got = by_episode(sys.argv[1]), by_episode(sys.argv[2])
bad = [e for e, ids in got.items() if e in want and ids != want[e] and sorted(ids) == sorted(want[e])]
if bad:
    print("%d episode(s) with their notifications in another order than simulate's, e.g.:" % len(bad))
    for e in bad[:5]:
        print("%s: %s, simulate %s" % (e, " ".join(got[e]), " ".join(want[e])))
    sys.exit(1)
PY
}

# Dead letters: as many as simulate rejected (less what produce refused), the same episode, code and
# reason each.
eos_compare_deadletter() {  # EXPECTED_REJECTIONS DEADLETTER_RECORDS NAME
  local exp=$1 got=$2 name=$3 d=$EOS_WORK
  eos_rejection_tuples "$exp" episodeId >"$d/$name.expected.tsv"
  eos_rejection_tuples "$got" key >"$d/$name.got.tsv"
  if ! diff "$d/$name.expected.tsv" "$d/$name.got.tsv" >"$d/$name.diff"; then
    echo "$name: $(wc -l <"$got") dead letter(s), expected $(wc -l <"$exp"); episode/code/reason differ: $d/$name.diff"
    head -n 10 "$d/$name.diff" | sed 's/^/    /'
    return 1
  fi
  rm -f "$d/$name.diff" "$d/$name.expected.tsv" "$d/$name.got.tsv"
}

# The committed output (read_committed): notifications.jsonl and deadletter.jsonl in the work dir.
eos_read_output() {
  # Both topics at once: each read ends 5 s after its last record.
  local dl_pid dl_rc=0
  eos_consume "$EOS_PREFIX.deadletter" "$EOS_WORK/deadletter.jsonl" --timeout-ms 5000 \
    2>"$EOS_WORK/consume-deadletter.err" &
  dl_pid=$!
  eos_consume "$EOS_PREFIX.notifications" "$EOS_WORK/notifications.jsonl" --timeout-ms 5000 \
    2>"$EOS_WORK/consume.err" || eos_fail "consume of the notifications failed: $(head -c 300 "$EOS_WORK/consume.err")"
  wait "$dl_pid" || dl_rc=$?
  ((dl_rc == 0)) || eos_fail "consume of the dead letters failed: $(head -c 300 "$EOS_WORK/consume-deadletter.err")"
}

# The final check: committed notifications == simulate, dead letters == simulate's rejections.
eos_check() {
  eos_read_output
  local bad=0
  eos_compare "$EOS_WORK/expected.jsonl" "$EOS_WORK/notifications.jsonl" notifications || bad=1
  eos_compare_deadletter "$EOS_WORK/expected-deadletter.jsonl" "$EOS_WORK/deadletter.jsonl" deadletter || bad=1
  ((bad == 0)) || eos_fail "the service's committed output is not simulate's (exactly-once violated; seed and logs above)"
  eos_log "exact: $(wc -l <"$EOS_WORK/notifications.jsonl") notifications == simulate, id for id and byte for byte, no duplicates; $(wc -l <"$EOS_WORK/deadletter.jsonl") dead letters == simulate's rejections"
}

# Transactions that were aborted (cut short by a kill, or by the broker or the service) left their
# records in the topic, where only read_uncommitted sees them. There must be some (else the test
# missed the work: WHY_NONE says so), and, compared as if they were the output, they must be caught
# as duplicates: the harness's proof on real broker data. Sets EOS_UNCOMMITTED (records read) and
# EOS_ABORTED (records beyond the committed ones).
eos_check_uncommitted() {  # WHY_NONE
  local out=$EOS_WORK/uncommitted.jsonl
  eos_consume "$EOS_PREFIX.notifications" "$out" --timeout-ms 3000 \
    -X isolation.level=read_uncommitted 2>/dev/null || eos_fail "read_uncommitted consume failed"
  EOS_UNCOMMITTED=$(wc -l <"$out")
  EOS_ABORTED=$((EOS_UNCOMMITTED - EOS_EXPECTED))
  ((EOS_ABORTED > 0)) || eos_fail "read_uncommitted sees $EOS_UNCOMMITTED records, no more than the $EOS_EXPECTED committed: $1"
  if eos_compare "$EOS_WORK/expected.jsonl" "$out" uncommitted >/dev/null ||
     [[ ! -s $EOS_WORK/uncommitted.duplicate.ids ]]; then
    eos_fail "self-check: the read_uncommitted output (aborted records included) was not caught as duplicates"
  fi
}

# The harness must be able to fail: doctored copies of the expected output (a line dropped, a line
# twice, one byte changed, a foreign line, two notifications of one episode swapped) and of the dead
# letters (one dropped) must each be caught; a shuffled copy that keeps each episode's order must
# pass (the order across episodes and partitions is not defined).
eos_selfcheck() {
  local d=$EOS_WORK/selfcheck exp=$EOS_WORK/expected.jsonl n
  mkdir -p "$d"
  n=$(wc -l <"$exp")
  local mid=$(((n + 1) / 2))
  sed "${mid}d" "$exp" >"$d/dropped.jsonl"
  sed "${mid}p" "$exp" >"$d/duplicated.jsonl"
  # One byte: the last digit of one issuedAt second.
  sed -E "${mid}s/(\"issuedAt\":\"[^\"]*)[0-9]Z\"/\\1XZ\"/" "$exp" >"$d/changed.jsonl"
  cmp -s "$exp" "$d/changed.jsonl" && eos_fail "self-check: could not doctor line $mid"
  { cat "$exp"; sed -n "${mid}s/\"notificationId\":\"/\"notificationId\":\"zz-/p" "$exp"; } >"$d/foreign.jsonl"
  python3 - "$exp" "$d" <<'PY'
import collections, json, random, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines(True)
episodes = collections.OrderedDict()
for line in lines:
    episodes.setdefault(json.loads(line)["episodeId"], []).append(line)
# Shuffled across episodes, each episode's lines in their order.
rng = random.Random(4711)
queues = [list(v) for v in episodes.values()]
out = []
while queues:
    q = rng.choice(queues)
    out.append(q.pop(0))
    if not q:
        queues.remove(q)
open(sys.argv[2] + "/shuffled.jsonl", "w", encoding="utf-8").writelines(out)
# One episode's first two notifications swapped.
two = next(v for v in episodes.values() if len(v) >= 2)
i, j = lines.index(two[0]), lines.index(two[1])
swapped = list(lines)
swapped[i], swapped[j] = swapped[j], swapped[i]
open(sys.argv[2] + "/swapped.jsonl", "w", encoding="utf-8").writelines(swapped)
PY
  local saved=$EOS_WORK case
  EOS_WORK=$d
  for case in dropped duplicated changed foreign swapped; do
    if eos_compare "$exp" "$d/$case.jsonl" "$case" >/dev/null; then
      EOS_WORK=$saved
      eos_fail "self-check: the comparison did not catch a $case line"
    fi
  done
  eos_compare "$exp" "$d/shuffled.jsonl" shuffled >/dev/null || {
    EOS_WORK=$saved
    eos_fail "self-check: the comparison rejected an output reordered across episodes, each episode's in its order"
  }
  local dl=$saved/expected-deadletter.jsonl
  if [[ -s $dl ]]; then
    # Turn the expected rejections into dead-letter-shaped lines (key instead of episodeId).
    sed 's/"episodeId":/"key":/' "$dl" >"$d/dl-same.jsonl"
    eos_compare_deadletter "$dl" "$d/dl-same.jsonl" dl-same >/dev/null ||
      { EOS_WORK=$saved; eos_fail "self-check: dead letters equal to the rejections were rejected"; }
    sed '1d' "$d/dl-same.jsonl" >"$d/dl-dropped.jsonl"
    if eos_compare_deadletter "$dl" "$d/dl-dropped.jsonl" dl-dropped >/dev/null; then
      EOS_WORK=$saved
      eos_fail "self-check: the comparison did not catch a missing dead letter"
    fi
    { cat "$d/dl-same.jsonl"; head -n 1 "$d/dl-same.jsonl"; } >"$d/dl-twice.jsonl"
    if eos_compare_deadletter "$dl" "$d/dl-twice.jsonl" dl-twice >/dev/null; then
      EOS_WORK=$saved
      eos_fail "self-check: the comparison did not catch a duplicated dead letter"
    fi
  fi
  EOS_WORK=$saved
  rm -rf "$d"
  eos_log "self-check: the comparison catches a dropped, duplicated, changed and foreign notification, one episode's two swapped, and a missing or doubled dead letter"
}
