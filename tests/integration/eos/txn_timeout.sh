#!/usr/bin/env bash
# eos.txn_timeout: the process stalls (SIGSTOP ... SIGCONT: a VM pause, a GC or disk stall) in the
# middle of a replay, for longer than its transaction timeout. The service holds a transaction's
# records until its commit, so a stall hurts only in the commit, after the records are produced and
# before the broker has the commit: the one moment the broker has the transaction open (Ongoing).
# The service stops itself there, at a transaction the test chooses (SAMORDNA_TEST_STOPS,
# ServiceConfig::test_stops; a random SIGSTOP would rarely land in a commit), and the test sends the
# SIGCONT. Two checks.
#
# a. The broker aborts that transaction while the process is stopped (stopped after librdkafka
# delivered the records: they are on the broker, uncommitted); the service, resumed, must not
# commit anything of it, must say why it stops, and, restarted on the same state dir and instance
# id, must finish the work. The read_committed output must be exactly simulate's, and
# read_uncommitted shows the aborted records.
#
# What librdkafka 2.0.2 does (observed, and asserted below). On SIGCONT the commit goes on, and its
# EndTxn carries the epoch the broker bumped when it aborted the transaction on its timer. The
# broker refuses it, and librdkafka takes that for fencing, a fatal error:
#   samordna: commit_transaction: Failed to end transaction: Local: This instance has been fenced by a newer instance (fatal) (the transaction had been open N ms, longer than transactionTimeoutMs ...)
# and the process exits 3 (no KIP-588 in 2.0.2: a timed-out transaction cannot be recovered in the
# same producer). The restart's init_transactions gets a new epoch and the changelog restore mends
# RocksDB.
#
# The broker aborts timed-out transactions on a timer (transaction.abort.timed.out.transaction.
# cleanup.interval.ms): deploy/kafka/kafka.sh sets it to 1 s (Kafka's default is 10 s), so the abort
# comes within the stall and the stall stays below the consumer session timeout (10 s): the group
# does not rebalance, only the transaction fails. The abort is checked on the broker while the
# process is stopped (Kafka's TransactionsCommand: Ongoing, then CompleteAbort with the epoch + 1).
#
# b. The other order: the broker does NOT abort during the stall (a private broker, started here by
# kafka.sh with its own data dir and ports, whose abort scan runs once an hour). The service stops
# with the commit's records still in librdkafka (linger.ms), which times them out locally on
# SIGCONT (transaction.timeout.ms also sets message.timeout.ms); the service aborts, the abort
# succeeds (it bumps the epoch itself), Service::Impl::abort_unit() rewinds the partitions to the
# committed offsets and the event-time clock to the last commit, and the service goes on in the
# same process. In one run of an event-time replay (SIGTERM once its output is complete): two
# stalls in a commit that abort, the first tried in the very FIRST transaction (nothing committed
# yet: every partition must go back to its beginning, and the clock to nothing), the second in a
# later one (back to the committed offsets and clock), each tried again at the next commit when
# librdkafka sends the records on the SIGCONT before it times them out (a miss: the transaction
# commits); and a stall at the start of the third, where the broker has nothing of it (it must go
# on and commit, with no abort). Asserted per stall in a commit that aborts: the broker still holds
# the transaction (Ongoing) after the timeout; then librdkafka's local timeout (TXNERR ... timed
# out / failed delivery), `aborting transaction: ...`, no exit, and the next commit numbered as if
# the aborted transaction never was. At the end: exit 0 (SIGTERM), exactly two aborts, no
# rebalance, read_committed output == simulate (eos_check), and the service's counts (consumed,
# dead-lettered, notifications) those of the topic and of simulate.
#
# README.md in this folder; usage: txn_timeout.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR
# Environment: EOS_EPISODES (8000), EOS_FEED_SEED (5505), EOS_LOAD_RATE (4000 lines a second, the
# paced feed), EOS_KEEP=1 keeps the work dir and topics;
# EOS_TXN_KAFKA_PORT (29292): check b's private broker (the controller gets the next port).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
eos_init txn_timeout "$@"

timeout_ms=3000   # transactionTimeoutMs: the smallest that leaves healthy 1 s batches a margin
stall_limit=8     # seconds stopped at most: below the consumer session timeout (10 s)

base=$EOS_PREFIX
shared=$EOS_BOOTSTRAP
work=$EOS_WORK
# Check b's private broker: its own data dir (in the work dir) and ports, and an abort scan that
# never comes during the test. Stopped on exit; its pid is listed for the watchdog.
kport=${EOS_TXN_KAFKA_PORT:-29292}
[[ $kport =~ ^[0-9]+$ ]] || eos_fail "EOS_TXN_KAFKA_PORT=$kport is not a port number"
kafka_env=(KAFKA_DATA_DIR="$work/kafka" KAFKA_PORT="$kport" KAFKA_CONTROLLER_PORT="$((kport + 1))"
           KAFKA_EXTRA_CONFIG="$work/kafka-extra.properties")
kafka_private() { env "${kafka_env[@]}" bash "$EOS_KAFKA_SH" "$@"; }
kafka_started=0
check_b=0
cleanup() {
  local rc=$?
  if ((kafka_started)); then kafka_private stop >>"$work/kafka-stop.log" 2>&1 || true; fi
  if ((check_b && (rc != 0 || ${EOS_KEEP:-0} == 1))); then
    echo "[$EOS_NAME] check b's topics ($base-rewind.*) are on the private broker, stopped; its data:" \
      "$work/kafka (KAFKA_DATA_DIR=$work/kafka KAFKA_PORT=$kport KAFKA_CONTROLLER_PORT=$((kport + 1)) kafka.sh start)" >&2
  fi
  # lib.sh deletes check a's topics (shared broker) on a pass; check b's go with the work dir.
  EOS_PREFIX=$base
  EOS_BOOTSTRAP=$shared
  set +e   # else errexit ends this trap at the next line when rc != 0, before eos_cleanup
  (exit "$rc")
  eos_cleanup
}
trap cleanup EXIT
for port in "$kport" "$((kport + 1))"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    eos_fail "port $port is in use: set EOS_TXN_KAFKA_PORT to a free port (check b's private broker takes it and the next one)"
  fi
done
eos_log "--- a. the broker aborts the stalled transaction first: fenced, exit 3, restart"

eos_feed "${EOS_EPISODES:-8000}" "${EOS_FEED_SEED:-5505}" 0.002
# Transactions bounded by time only (maxBatchMs, at most half the timeout): one is open nearly all
# the time, so the stop lands in one, and it holds thousands of records when the broker aborts it.
config_a=("maxBatch: 1000000" "maxBatchMs: 1000" "transactionTimeoutMs: $timeout_ms")
EOS_CLOCK=open eos_config "${config_a[@]}"   # with `until` for run2, once the feed is complete
# -vv: a line per committed transaction. Small fetches, as in crash.sh: every transaction spans the
# four partitions, and so does the restore after the restart. linger.ms: the records a commit
# produces wait in librdkafka until the commit flushes them (check b stops in that moment; here the
# stop comes after the flush).
EOS_RUN_ARGS=(-v -X max.partition.fetch.bytes=8192 -X linger.ms=1000)
eos_selfcheck
# The feed arrives while the service runs (${EOS_LOAD_RATE:-4000} lines a second after a first
# 5000): a loaded topic is replayed in well under a second, before any stop could land in it.
eos_load_paced 5000 "${EOS_LOAD_RATE:-4000}"

id=$EOS_PREFIX-a
txn_id=samordna-$id
# The broker's view of the instance's transaction: "STATE EPOCH" (Kafka's TransactionsCommand).
txn_state() {
  local line
  line=$(bash "$EOS_KAFKA_SH" tool org.apache.kafka.tools.TransactionsCommand \
           --bootstrap-server "$EOS_BOOTSTRAP" describe --transactional-id "$txn_id" \
           2>>"$EOS_WORK/describe.err" | awk -F'\t' 'NR == 2 { gsub(/ /, ""); print $5, $4 }') || true
  echo "${line:-unknown -1}"
}
now_ms() { date +%s%3N; }

# The stop: in the commit of the third transaction, once librdkafka has delivered its records
# (SAMORDNA_TEST_STOPS, ServiceConfig::test_stops): the transaction is open on the broker (Ongoing)
# and its records are there, uncommitted. The service produces a transaction's records at its
# commit, so that only a stall in the commit meets a transaction open on the broker (check b's
# stall at the start of a transaction finds none).
SAMORDNA_TEST_STOPS=3:flushed eos_start run1 "$EOS_WORK/state" "$id"
pid=$EOS_PID
log1=$EOS_WORK/run1.log
eos_wait_log "$log1" 'assigned partition' 4 60 "$pid"
eos_wait_log "$log1" 'stopping with its records delivered in the commit of transaction 3 ' 1 90 "$pid"
eos_wait_stopped "$pid"
stop_ms=$(now_ms)
read -r state epoch0 < <(txn_state)
eos_log "stopped in the commit of transaction 3, its records delivered: the broker has the transaction $state (epoch $epoch0)"
[[ $state == Ongoing ]] || { kill -CONT "$pid"; eos_fail "the broker has the transaction $state at the stop, not Ongoing"; }
lines_at_stop=$(wc -l <"$log1")

# Stopped until the broker has aborted the transaction on its own: CompleteAbort, epoch bumped.
while :; do
  read -r state epoch < <(txn_state)
  stopped=$(($(now_ms) - stop_ms))
  [[ $state == CompleteAbort && $epoch -gt $epoch0 ]] && break
  if ((stopped > (stall_limit - 2) * 1000)); then   # one more query would take ~1-2 s
    kill -CONT "$pid"
    eos_fail "the broker has not aborted the transaction after ${stopped} ms (state $state, epoch $epoch; timeout ${timeout_ms} ms): does it run with transaction.abort.timed.out.transaction.cleanup.interval.ms=1000? deploy/kafka/kafka.sh writes it; restart a broker started before that line (kafka.sh stop; kafka.sh start)"
  fi
done
kill -CONT "$pid"
stopped=$(($(now_ms) - stop_ms))
((stopped < stall_limit * 1000)) || eos_fail "stopped ${stopped} ms: the consumer session (10 s) may have expired"
eos_log "SIGCONT after ${stopped} ms stopped (transaction timeout ${timeout_ms} ms): the broker aborted the transaction meanwhile (CompleteAbort, epoch $epoch0 -> $epoch)"

# On SIGCONT the commit goes on: librdkafka holds nothing of the transaction (delivered before the
# stop), and its EndTxn carries the old epoch: the broker refuses it, librdkafka 2.0.2 takes that
# for fencing (a fatal error), and the service exits 3 (header).
for ((i = 0; i < 300; i++)); do eos_alive "$pid" || break; sleep 0.1; done
eos_alive "$pid" && eos_fail "the service still runs 30 s after resuming from a stall past its transaction timeout (expected: exit 3, fenced)"
rc=0
wait "$pid" || rc=$?
after=$(tail -n +"$((lines_at_stop + 1))" "$log1")
last=$(grep '^samordna: ' "$log1" | tail -n 1 || true)
((rc == 3)) || eos_fail "the stalled service exited $rc, not 3: ${last:-$(tail -n 2 "$log1")}"
fatal=$(grep -m 1 'FATAL.*Fatal error: Local: This instance has been fenced by a newer instance' <<<"$after" || true)
[[ -n $fatal ]] || eos_fail "after the SIGCONT, no fencing from librdkafka ('FATAL ... fenced by a newer instance')"
[[ $last =~ ^samordna:\ commit_transaction:\ .*fenced\ by\ a\ newer\ instance.*the\ broker\ aborted\ it ]] ||
  eos_fail "librdkafka was fenced (${fatal#*FATAL }), but the service's last words are not a fenced commit that names the stall: ${last:-$(tail -n 2 "$log1")}"
grep -q 'aborting transaction' <<<"$after" && eos_fail "the service tried to abort: it had nothing to abort with"
eos_log "librdkafka: ${fatal#*FATAL }"
eos_log "exit 3: $last"
grep -q 'committed transaction' <<<"$after" && eos_fail "the stalled service committed a transaction after the SIGCONT"

# A supervisor restarts it: same state dir, same instance id. It gets a new epoch, restores what
# RocksDB lacks from the changelog and finishes the replay, without another abort. The feed is
# complete by then, so it runs with `until` (the end of the replay, as simulate's).
eos_load_wait
eos_config "${config_a[@]}"
eos_start run2 "$EOS_WORK/state" "$id"
pid=$EOS_PID
# Check b's private broker starts now, in the background: after check a's stall (a broker starting
# would slow the TransactionsCommand queries above), overlapping the rest of check a.
printf '%s\n' '# eos.txn_timeout b: the broker must not abort a timed-out transaction during the test' \
  'transaction.abort.timed.out.transaction.cleanup.interval.ms=3600000' >"$work/kafka-extra.properties"
kafka_started=1
kafka_private start >"$work/kafka-start.log" 2>&1 &
kafka_start_pid=$!
eos_wait_output 90 "$pid"
sleep 2
eos_stop "$pid"
grep -q 'aborting transaction' "$EOS_WORK/run2.log" && eos_fail "the restarted service aborted a transaction"
grep -q 'committed transaction 1:' "$EOS_WORK/run2.log" || eos_fail "the restarted service committed nothing: was the work all done before the stall?"
eos_check

# The aborted transaction's records did reach the topic: read_uncommitted sees them, the
# comparison catches them as duplicates, read_committed (above) did not see them.
eos_check_uncommitted "the aborted transaction wrote nothing?"
eos_log "read_uncommitted sees $EOS_UNCOMMITTED notification records: $EOS_ABORTED of the transaction the broker aborted, caught as duplicates; read_committed shows none of them"

# ---------------------------------------------------------------- b. the service aborts first
eos_log "--- b. the broker does not abort: the service aborts the stalled transaction, rewinds and goes on"
rc=0
wait "$kafka_start_pid" || rc=$?
((rc == 0)) || { cat "$work/kafka-start.log" >&2; eos_fail "b: the private broker did not start on port $kport"; }
cat "$work/kafka/kafka.pid" >>"$work/pids"
grep -qx 'transaction.abort.timed.out.transaction.cleanup.interval.ms=3600000' "$work/kafka/server.properties" ||
  eos_fail "b: the private broker's server.properties lacks the hourly abort scan (KAFKA_EXTRA_CONFIG)"
check_b=1
EOS_PREFIX=$base-rewind
EOS_BOOTSTRAP=127.0.0.1:$kport
EOS_CFG=$work/rewind.yaml
# The same feed and expected output as a, the feed paced as in a after a first 10000 lines;
# transactions of at most 5000 inputs or 500 ms, so that the backlog a stall leaves (the feed goes
# on meanwhile) is worked off in several transactions, and there are enough for the stalls that
# miss. -v (with eos_start's: -vv, a line per committed transaction), small fetches and linger.ms
# as in a: a commit's records wait in librdkafka, and the stop in the commit finds them there.
# writeBehindSeconds: the store is written only at a rebalance or shutdown (the feed holds fewer
# episodes than writeBehindEpisodes), so an abort drops every committed transaction's states too, and
# the restore after it must read them back from the changelog.
config_b=("maxBatch: 5000" "maxBatchMs: 500" "transactionTimeoutMs: $timeout_ms" "writeBehindSeconds: 3600")
EOS_CLOCK=open eos_config "${config_b[@]}"
EOS_RUN_ARGS=(-v -X max.partition.fetch.bytes=8192 -X linger.ms=1000)
eos_load_paced 10000 "${EOS_LOAD_RATE:-4000}"
id=$EOS_PREFIX-a
txn_id=samordna-$id
log=$work/rewind.log

# wait_line FROM REGEX SECONDS: LINE = the number of the first line of $log after line FROM that
# matches REGEX (ERE). Returns 1 if the service exits first; fails the test when time runs out.
wait_line() {
  local from=$1 regex=$2 limit=$3 n alive
  local until=$((SECONDS + limit))
  while :; do
    alive=0
    eos_alive "$pid" && alive=1
    n=$(tail -n +"$((from + 1))" "$log" | grep -m 1 -nE -- "$regex" | cut -d: -f1 || true)
    if [[ -n $n ]]; then
      LINE=$((from + n))
      return 0
    fi
    ((alive)) || return 1
    ((SECONDS < until)) || eos_fail "b: no '$regex' in $(basename "$log") after its line $from within ${limit}s"
    sleep 0.05
  done
}
last_words() { grep '^samordna: ' "$log" | tail -n 1 || tail -n 2 "$log"; }
exited() {  # the service is gone where it had to go on
  local rc=0
  wait "$pid" || rc=$?
  eos_fail "b: $1: the service exited $rc instead of aborting the transaction and going on: $(last_words)"
}

# The caller found the service's stop line at LINE: STOP_AT is that line, stop_ms the time once
# the process is stopped.
stopped_at() {
  STOP_AT=$LINE
  eos_wait_stopped "$pid"
  stop_ms=$(now_ms)
}
# Until the stall has lasted past the transaction timeout (and the consumer session not), then SIGCONT.
resume() {
  local n=$1 stopped
  while (($(now_ms) - stop_ms < timeout_ms + 1000)); do sleep 0.05; done
  kill -CONT "$pid"
  stopped=$(($(now_ms) - stop_ms))
  ((stopped < stall_limit * 1000)) || eos_fail "b: stall $n: stopped ${stopped} ms: the consumer session (10 s) may have expired"
  STOPPED=$stopped
}

# stall N: the service stops itself in the commit of transaction N, its records produced and
# lingering in librdkafka (linger.ms), its offsets sent: the broker has the transaction Ongoing. It
# stays stopped past transactionTimeoutMs; the broker must still hold the transaction (its abort
# scan does not run); then SIGCONT. The service must abort the transaction itself (librdkafka timed
# its records out locally), stay up, restore every partition (write-behind) and commit next
# transaction N again, as if the aborted one never was: STALL=aborted. Which comes first on the
# SIGCONT is a race inside librdkafka, though: its timeout scan, or sending the records (the broker
# takes them: it has not aborted). Then the transaction commits: STALL=missed, and the caller
# stalls a later one.
stall() {
  local n=$1 commits=$(($1 - 1)) state epoch described line txnerr aborting restored read abort_line
  stopped_at
  read -r state epoch < <(txn_state)
  [[ $state == Ongoing ]] || { kill -CONT "$pid"; eos_fail "b: stall $n: the broker has the transaction $state at the stop, not Ongoing"; }
  while (($(now_ms) - stop_ms < timeout_ms + 200)); do sleep 0.05; done
  read -r state epoch < <(txn_state)
  described=$(($(now_ms) - stop_ms))
  [[ $state == Ongoing ]] || {
    kill -CONT "$pid"
    eos_fail "b: stall $n: after ${described} ms stopped the broker has the transaction $state (epoch $epoch): it must not abort it (its abort scan is hourly); see describe.err"
  }
  resume "$n"
  eos_log "b: stall $n, in the commit of transaction $n: SIGCONT after ${STOPPED} ms stopped (transaction timeout ${timeout_ms} ms); the broker still had the transaction $state (epoch $epoch) at ${described} ms"

  wait_line "$STOP_AT" 'aborting transaction: |committed transaction [0-9]+:|^samordna: ' 30 || exited "stall $n"
  line=$(sed -n "${LINE}p" "$log")
  [[ $line == 'samordna: '* ]] && eos_fail "b: stall $n: a fatal error instead of an abort: $line"
  if [[ $line == *"committed transaction $n:"* ]]; then
    STALL=missed
    eos_log "b: stall $n missed: librdkafka sent the records on the SIGCONT before it timed them out, and the transaction committed (the broker had not aborted it); again in a later transaction"
    return 0
  fi
  [[ $line == *'aborting transaction: '* ]] || eos_fail "b: stall $n: after the SIGCONT, neither an abort nor the commit of transaction $n: $line"
  STALL=aborted
  aborting="aborting transaction: ${line#*aborting transaction: }"
  # librdkafka fails the transaction when it times the records out, and says so at the commit
  # (commit_transaction: N message(s) timed out on TOPIC [P], or failed delivery); or a record was
  # refused since (the service's own reason).
  [[ $aborting =~ ^'aborting transaction: '('commit_transaction: '[0-9]+' message(s) '(timed out on|failed delivery)|'a record was refused: librdkafka failed the transaction') ]] ||
    eos_fail "b: stall $n: the abort does not give librdkafka's message timeout as its reason: $aborting"
  txnerr=$(sed -n "$((STOP_AT + 1)),${LINE}p" "$log" |
    grep -E 'TXNERR.*Current transaction failed in state [A-Za-z]+: [0-9]+ message\(s\) (timed out on .*requires epoch bump|failed delivery)' | head -n 1 || true)
  [[ -n $txnerr ]] || eos_fail "b: stall $n: no librdkafka 'TXNERR ... message(s) timed out / failed delivery' before the abort"
  abort_line=$LINE

  # It goes on in the same process: the next commit, with no fatal error before it, is number n
  # again (the aborted transaction is not counted).
  wait_line "$abort_line" 'committed transaction [0-9]+:|^samordna: ' 60 || exited "stall $n"
  line=$(sed -n "${LINE}p" "$log")
  [[ $line == 'samordna: '* ]] && eos_fail "b: stall $n: a fatal error after the abort: $line"
  [[ $line == *"committed transaction $n:"* ]] ||
    eos_fail "b: stall $n: after the abort, expected 'committed transaction $n:', got: $line"
  # The failed deliveries were librdkafka's local message timeout (the service logs the first one).
  awk -v from="$STOP_AT" -v to="$LINE" 'NR > from && NR <= to && /delivery to .* failed: Local: Message timed out/ { found = 1 }
       END { exit !found }' "$log" ||
    eos_fail "b: stall $n: no 'delivery to ... failed: Local: Message timed out' (the local message timeout) between the stop and the next commit"
  # Write-behind: the abort took the held states with it, and every partition was restored from the
  # changelog before the service went on; after a commit, that restore reads what the commit wrote.
  restored=$(sed -n "$((abort_line + 1)),${LINE}p" "$log" | grep -c 'restored partition' || true)
  ((restored == 4)) || eos_fail "b: stall $n: $restored partitions restored after the abort, not 4"
  read=$(sed -n "$((abort_line + 1)),${LINE}p" "$log" |
    sed -nE 's/.*restored partition [0-9]+: ([0-9]+) changelog records.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
  ((commits == 0 || read > 0)) || eos_fail "b: stall $n: the restore after the abort read no changelog record"
  eos_log "b: stall $n: $restored partitions restored after the abort, $read changelog records read"
  eos_log "b: stall $n: librdkafka: ${txnerr#*TXNERR }"
  eos_log "b: stall $n: service: $aborting"
  eos_log "b: stall $n: no exit, the service went on: committed transaction ${line#*committed transaction }"
}

# stall_open N: the service stops itself at the start of transaction N, which holds records only in
# the service's memory: the broker has no transaction open (the last one committed). Stopped past
# the transaction timeout, resumed, the service must go on and commit transaction N, with no abort
# and no error: a stall outside a commit costs the time it lasts and nothing else.
stall_open() {
  local n=$1 state epoch line
  stopped_at
  read -r state epoch < <(txn_state)
  [[ $state == CompleteCommit ]] || { kill -CONT "$pid"; eos_fail "b: stall $n: the broker has the transaction $state at the start of the next one, not CompleteCommit"; }
  resume "$n"
  wait_line "$STOP_AT" 'aborting transaction: |committed transaction [0-9]+:|^samordna: ' 30 || exited "stall $n"
  line=$(sed -n "${LINE}p" "$log")
  [[ $line == *"committed transaction $n:"* ]] ||
    eos_fail "b: stall $n: after a stall at the start of transaction $n, expected 'committed transaction $n:', got: $line"
  eos_log "b: stall $n, at the start of transaction $n: the broker had the last one $state; SIGCONT after ${STOPPED} ms stopped; no abort, the service went on: committed transaction ${line#*committed transaction }"
}

# Stops offered: in the commit of transactions 1, 2 and 4 to 13, and at the start of the third
# (whose commit must then go through unstopped). The test holds the first stop in a commit (ideally
# the very first transaction's: nothing committed, so every partition goes back to its beginning
# and the clock to nothing), the stop at the start of the third, and the next stop in a commit
# (with offsets and a clock committed: back to them); a stall that misses is tried again at the
# next commit. Every other stop is resumed at once (a stop of a few milliseconds).
stops=1:commit,2:commit,3:begun
for ((t = 4; t <= 13; t++)); do stops+=",$t:commit"; done
SAMORDNA_TEST_STOPS=$stops eos_start rewind "$work/rewind-state" "$id"
pid=$EOS_PID
eos_wait_log "$log" 'assigned partition' 4 60 "$pid"
LINE=0
aborted=() open_done=0
while ((${#aborted[@]} < 2 || !open_done)); do
  wait_line "$LINE" 'stopping (in the commit of|at the start of) transaction [0-9]+ \(SAMORDNA_TEST_STOPS\)' 120 ||
    exited "waiting for a stop (${#aborted[@]} aborted stalls so far)"
  line=$(sed -n "${LINE}p" "$log")
  n=$(sed -nE 's/.* transaction ([0-9]+) \(SAMORDNA_TEST_STOPS\).*/\1/p' <<<"$line")
  if [[ $line == *'at the start of'* ]]; then
    stall_open "$n"
    open_done=1
  elif ((${#aborted[@]} < 2)); then
    stall "$n"
    [[ $STALL == aborted ]] && aborted+=("$n")
  else
    eos_wait_stopped "$pid"
    kill -CONT "$pid"
  fi
done
eos_log "b: stalls in the commits of transactions ${aborted[*]} aborted (the first one's with nothing committed before it: $([[ ${aborted[0]} == 1 ]] && echo yes || echo no, transaction 1 missed))"
# The stops still offered: resumed at once until the service ends.
(
  while eos_alive "$pid"; do
    [[ $(ps -o stat= -p "$pid" 2>/dev/null) == T* ]] && kill -CONT "$pid"
    sleep 0.05
  done
) &

# Once the feed is complete, SIGTERM (exit 0), and a last run with `until` takes what is left and
# ends the replay as simulate does (--exit-at-end: it exits 0 by itself once caught up).
eos_load_wait
records=$((EOS_EVENTS - $(wc -l <"$work/produce-refused.lines")))
sleep 1
eos_stop "$pid"
stopped=$(grep -m 1 ' stopped: consumed ' "$log" || true)
[[ -n $stopped ]] || eos_fail "b: the service exited 0 without its counts ('stopped: ...')"
eos_log "b: exit 0, ${stopped#* stopped: }"
eos_config "${config_b[@]}"
EOS_RUN_ARGS=(-v --exit-at-end -X max.partition.fetch.bytes=8192)
eos_start rewind-end "$work/rewind-state" "$id"
pid=$EOS_PID
for ((i = 0; i < 900; i++)); do eos_alive "$pid" || break; sleep 0.1; done
eos_alive "$pid" && eos_fail "b: the last run (until) has not caught up after 90 s"
rc=0
wait "$pid" || rc=$?
((rc == 0)) || eos_fail "b: the last run exited $rc, not 0: $(grep '^samordna: ' "$work/rewind-end.log" | tail -n 1)"
caught=$(grep -m 1 'caught up' "$work/rewind-end.log" || true)
[[ -n $caught ]] || eos_fail "b: the last run exited 0 without 'caught up' (--exit-at-end)"
eos_log "b: the last run: exit 0, caught up ${caught#*caught up }"
n=$(grep -c 'aborting transaction' "$log" || true)
((n == 2)) || eos_fail "b: $n aborted transactions, not 2 (one per stall)"
n=$(grep -c 'assigned partition' "$log" || true)
((n == 4)) || eos_fail "b: $n partition assignments, not 4: the group rebalanced (a stall past the session?)"
grep -q '^samordna: ' "$log" && eos_fail "b: a fatal error in the log: $(last_words)"
eos_check
# Its counters leave out what the aborts dropped (they are rolled back with the input): every record
# of the events topic consumed once by one of the two runs, and as many dead letters and
# notifications as simulate (the last run's include the timers `until` fired).
count() { sed -nE "s/.* $1 ([0-9]+) .*/\1/p" <<<"$2"; }
consumed=$(($(count consumed "$stopped") + $(count consumed "$caught")))
((consumed == records)) || eos_fail "b: the two runs consumed $consumed records, the topic has $records"
dl=$(($(count dead-lettered "$stopped") + $(count dead-lettered "$caught")))
notified=$(($(count notifications "$stopped") + $(count notifications "$caught")))
((dl == EOS_EXPECTED_DL && notified == EOS_EXPECTED)) ||
  eos_fail "b: the service dead-lettered $dl and notified $notified, simulate $EOS_EXPECTED_DL and $EOS_EXPECTED"

# The aborted transactions' records were in librdkafka at the stops and timed out there: the broker
# got none of them, or, where a batch filled up (batch.size) before the stop, some. Informational;
# any there are must be caught as duplicates, as in a.
uncommitted=$(eos_consume "$EOS_PREFIX.notifications" /dev/stdout --timeout-ms 3000 -X isolation.level=read_uncommitted 2>/dev/null | wc -l)
if ((uncommitted > EOS_EXPECTED)); then
  eos_check_uncommitted "b: unreachable"
fi
eos_log "b: read_uncommitted sees $uncommitted notification records: $((uncommitted - EOS_EXPECTED)) of the transactions the service aborted reached the broker"
EOS_OK=1
