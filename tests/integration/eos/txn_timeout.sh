#!/usr/bin/env bash
# eos.txn_timeout: the process stalls (SIGSTOP ... SIGCONT: a VM pause, a GC or disk stall) in the
# middle of a replay, with a transaction open, for longer than its transaction timeout. Two checks.
#
# a. The broker aborts that transaction while the process is stopped; the service, resumed, must
# not commit anything of it, must say why it stops, and, restarted on the same state dir and
# instance id, must finish the work. The read_committed output must be exactly simulate's.
#
# What librdkafka 2.0.2 does (observed, and asserted below). transaction.timeout.ms also sets its
# message.timeout.ms, so on SIGCONT the messages that were queued or in flight at the stop time out
# locally first: `TXNERR ... Current transaction failed in state InTransaction: N message(s) timed
# out on TOPIC [P] (_TIMED_OUT, requires epoch bump)`, an abortable error. The service aborts
# (`aborting transaction: send_offsets_to_transaction: N message(s) timed out ...`), but the abort
# has to bump the producer epoch, and the broker has already bumped it when it aborted the
# transaction on its timer, so the abort is fenced, a fatal error:
#   samordna: abort_transaction: Failed to end transaction: Local: This instance has been fenced by a newer instance
# and the process exits 3 (no KIP-588 in 2.0.2: a timed-out transaction cannot be recovered in the
# same producer). The restart's init_transactions gets a new epoch and the changelog restore mends
# RocksDB. (Had the process resumed before the broker's abort, the abort would succeed and the
# service would rewind and go on in the same process; the test waits for the broker's abort, so it
# always sees the fenced exit. Check b below covers that other order.)
#
# The broker aborts timed-out transactions on a timer (transaction.abort.timed.out.transaction.
# cleanup.interval.ms): deploy/kafka/kafka.sh sets it to 1 s (Kafka's default is 10 s), so the abort
# comes within the stall and the stall stays below the consumer session timeout (10 s): the group
# does not rebalance, only the transaction fails. The abort is checked on the broker while the
# process is stopped (Kafka's TransactionsCommand: Ongoing, then CompleteAbort with the epoch + 1).
#
# b. The other order: the broker does NOT abort during the stall (a private broker, started here by
# kafka.sh with its own data dir and ports, whose abort scan runs once an hour), so when librdkafka
# times the messages out locally and the service aborts, the abort succeeds (it bumps the epoch
# itself) and Service::Impl::abort_and_rewind() rewinds the partitions to the committed offsets and
# the event-time clock to the last commit, and the service goes on in the same process. Two stalls,
# in one run of an event-time replay (SIGTERM once its output is complete): the first inside the
# very FIRST transaction (nothing committed yet: every partition must go back to its beginning, and
# the clock to nothing), the second inside a later one (back to the committed offsets and clock).
# Asserted per stall: the broker still holds the transaction (not aborted) after the timeout; then
# librdkafka's local timeout (TXNERR ... timed out / failed delivery), `aborting transaction: ...`,
# no exit, and the next commit numbered as if the aborted transaction never was. At the end: exit 0
# (SIGTERM), exactly two aborts, no rebalance, read_committed output == simulate (eos_check), the
# service's counts (consumed, dead-lettered, notifications) those of the topic and of simulate, and
# read_uncommitted shows the aborted records.
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
# four partitions, and so does the restore after the restart. linger.ms as long as a transaction:
# the records of the open one wait in librdkafka until its commit flushes them, so a stop finds
# some queued, as it would in a service working through a backlog.
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

eos_start run1 "$EOS_WORK/state" "$id"
pid=$EOS_PID
log1=$EOS_WORK/run1.log
eos_wait_log "$log1" 'assigned partition' 4 60 "$pid"
# After the first commit: a stop in the very first transaction found it not yet on the broker
# (TransactionsCommand: Empty; its records were still queued), so the broker had nothing to abort.
eos_wait_log "$log1" 'committed transaction 1:' 1 60 "$pid"

# Stop it inside an open transaction: the broker must see one Ongoing. A stop that happens to land
# in a commit (or after the end of the work) is undone at once (well within the timeout) and tried
# again.
for ((try = 1; ; try++)); do
  sleep 0.3
  kill -STOP "$pid"
  stop_ms=$(now_ms)
  read -r state epoch0 < <(txn_state)
  eos_log "SIGSTOP $try: the broker has the transaction $state (epoch $epoch0)"
  [[ $state == Ongoing ]] && break
  kill -CONT "$pid"
  ((try < 3)) || eos_fail "no transaction open at 3 stops (state $state): did the replay end before? raise EOS_EPISODES"
done
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

# The path of librdkafka 2.0.2 (header): local message timeout, abort, fenced, exit 3.
for ((i = 0; i < 300; i++)); do eos_alive "$pid" || break; sleep 0.1; done
eos_alive "$pid" && eos_fail "the service still runs 30 s after resuming from a stall past its transaction timeout (expected: exit 3, fenced)"
rc=0
wait "$pid" || rc=$?
after=$(tail -n +"$((lines_at_stop + 1))" "$log1")
last=$(grep '^samordna: ' "$log1" | tail -n 1 || true)
((rc == 3)) || eos_fail "the stalled service exited $rc, not 3: ${last:-$(tail -n 2 "$log1")}"
# Which comes first on SIGCONT is a race inside librdkafka: its timeout scan (the path in the
# header), or a request it sends at once (a ProduceRequest of the queued records, or the commit's
# AddPartitionsToTxn), which the broker refuses (old epoch): a fatal error, fenced. The service's
# next call into the transaction then fails: a produce() ("produce to TOPIC: Local: Fatal error"),
# or, when the stop fell at the end of a unit, the commit's send_offsets_to_transaction or
# commit_transaction ("... fenced by a newer instance (fatal)"). All of them are fenced, exit 3.
txnerr=$(grep -m 1 'TXNERR.*Current transaction failed in state [A-Za-z]*: [0-9]* message(s) timed out on .*requires epoch bump' <<<"$after" || true)
fatal=$(grep -m 1 'FATAL.*Fatal error: Local: This instance has been fenced by a newer instance' <<<"$after" || true)
if [[ -n $txnerr ]]; then
  aborting=$(grep -m 1 'aborting transaction: ' <<<"$after" || true)
  [[ -n $aborting ]] || eos_fail "the service did not try to abort the failed transaction ('aborting transaction: ...'): ${last:-no samordna: line}"
  [[ $last == 'samordna: abort_transaction: '*fenced* ]] ||
    eos_fail "the stalled service's last words do not say that the abort was fenced: ${last:-$(tail -n 2 "$log1")}"
  eos_log "librdkafka: ${txnerr#*TXNERR }"
  eos_log "service: aborting transaction: ${aborting#*aborting transaction: }"
elif [[ -n $fatal ]]; then
  [[ $last == 'samordna: produce to '* ||
    $last =~ ^samordna:\ (send_offsets_to_transaction|commit_transaction):\ .*fenced\ by\ a\ newer\ instance ]] ||
    eos_fail "librdkafka was fenced (${fatal#*FATAL }), but the service's last words are neither a refused produce nor a fenced commit: ${last:-$(tail -n 2 "$log1")}"
  eos_log "librdkafka (a request sent on SIGCONT, before its timeout scan): ${fatal#*FATAL }"
else
  eos_fail "after the SIGCONT, neither librdkafka's local message timeout ('TXNERR ... message(s) timed out ... requires epoch bump') nor its fencing ('FATAL ... fenced by a newer instance')"
fi
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
# The same feed and expected output as a, transactions bounded by time only, 1.5 s (half the
# transaction timeout, the most the config allows), so that the first stall lands inside the first
# transaction, before its commit flushes what lingers (the feed still leaves several transactions:
# the second stall needs work left after the first commit, also on a fast machine). The
# feed paced as in a, after a first 10000 lines (the first transaction holds dead letters). -v (with
# eos_start's: -vv, a line per committed transaction), small fetches and linger.ms as in a.
# writeBehindSeconds: the store is written only at a rebalance or shutdown (the feed holds fewer
# episodes than writeBehindEpisodes), so an abort drops every committed transaction's states too, and
# the restore after it must read them back from the changelog.
config_b=("maxBatch: 1000000" "maxBatchMs: 500" "transactionTimeoutMs: $timeout_ms" "writeBehindSeconds: 3600")
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

# stall N MAY_MISS: SIGSTOP inside an open transaction (the caller waited for a dead letter produced
# in it), kept stopped past transactionTimeoutMs; the broker must still hold the transaction (its
# abort scan does not run), then SIGCONT. The service must then abort the transaction itself
# (librdkafka timed its messages out locally), stay up, and commit next the number it would have
# without the aborted transaction. Only records still queued in librdkafka at the stop time out:
# if none were (all delivered), the transaction is healthy and commits. With MAY_MISS=1 that sets
# STALL=missed (the caller tries again in a later transaction); otherwise it fails the test.
# With ONGOING=1 a stop that finds no transaction open on the broker is undone at once and missed:
# after a commit, librdkafka registers the next transaction's partitions a moment after its first
# records (they linger, linger.ms); an abort in that moment is refused by the broker as
# INVALID_TXN_STATE, a fatal error for librdkafka 2.0.2, and not the path this check is about.
stall() {
  local n=$1 may_miss=$2 ongoing=${3:-0} commits at_stop stop_ms described stopped state epoch line
  local txnerr aborting restored read
  STALL=aborted
  commits=$(grep -c 'committed transaction [0-9]*:' "$log" || true)
  kill -STOP "$pid"
  stop_ms=$(now_ms)
  at_stop=$(wc -l <"$log")
  if ((ongoing)); then
    read -r state epoch < <(txn_state)
    if [[ $state != Ongoing ]]; then
      kill -CONT "$pid"
      ((may_miss)) || eos_fail "b: stall $n: no transaction open on the broker at the stop ($state)"
      STALL=missed
      eos_log "b: stall $n missed: the broker had the transaction $state at the stop; again later"
      return 0
    fi
  fi
  while (($(now_ms) - stop_ms < timeout_ms + 200)); do sleep 0.05; done
  read -r state epoch < <(txn_state)
  described=$(($(now_ms) - stop_ms))
  case $state in
    Ongoing | Empty | CompleteCommit) ;;   # not aborted (Empty, CompleteCommit: not on the broker yet)
    *)
      kill -CONT "$pid"
      eos_fail "b: stall $n: after ${described} ms stopped the broker has the transaction $state (epoch $epoch): it must not abort it (its abort scan is hourly); see describe.err"
      ;;
  esac
  while (($(now_ms) - stop_ms < timeout_ms + 1000)); do sleep 0.05; done
  kill -CONT "$pid"
  stopped=$(($(now_ms) - stop_ms))
  ((stopped < stall_limit * 1000)) || eos_fail "b: stall $n: stopped ${stopped} ms: the consumer session (10 s) may have expired"
  eos_log "b: stall $n ($commits transaction(s) committed before it): SIGCONT after ${stopped} ms stopped (transaction timeout ${timeout_ms} ms); the broker still had the transaction $state (epoch $epoch) at ${described} ms"

  wait_line "$at_stop" 'aborting transaction: |committed transaction [0-9]+:|^samordna: ' 30 || exited "stall $n"
  line=$(sed -n "${LINE}p" "$log")
  [[ $line == 'samordna: '* ]] && eos_fail "b: stall $n: a fatal error instead of an abort: $line"
  if [[ $line != *'aborting transaction: '* ]] && ((may_miss)); then
    STALL=missed
    eos_log "b: stall $n missed: nothing of the transaction was left queued in librdkafka at the stop, it committed (transaction ${line#*committed transaction }); again in a later transaction"
    return 0
  fi
  [[ $line == *'aborting transaction: '* ]] ||
    eos_fail "b: stall $n: a commit after the SIGCONT, before any abort: $line (the stop did not fail the transaction: nothing of it was queued in librdkafka?)"
  aborting="aborting transaction: ${line#*aborting transaction: }"
  # By where the stop caught the transaction: its messages time out while it is open
  # (send_offsets_to_transaction: N message(s) timed out on TOPIC [P]), or during the commit
  # (commit_transaction: N message(s) failed delivery; in the first transaction, whose records still
  # wait for the metadata of the topic the service just created); or a record refused since (the
  # service's own reason, when send_offsets_to_transaction did not fail).
  [[ $aborting =~ ^'aborting transaction: '((send_offsets_to_transaction|commit_transaction)': '[0-9]+' message(s) '(timed out on|failed delivery)|'a record was refused: librdkafka failed the transaction') ]] ||
    eos_fail "b: stall $n: the abort does not give librdkafka's message timeout as its reason: $aborting"
  txnerr=$(sed -n "$((at_stop + 1)),${LINE}p" "$log" |
    grep -E 'TXNERR.*Current transaction failed in state [A-Za-z]+: [0-9]+ message\(s\) (timed out on .*requires epoch bump|failed delivery)' | head -n 1 || true)
  [[ -n $txnerr ]] || eos_fail "b: stall $n: no librdkafka 'TXNERR ... message(s) timed out / failed delivery' before the abort"
  abort_line=$LINE

  # It goes on in the same process: the next commit, with no fatal error before it, is number
  # commits + 1 (the aborted transaction is not counted).
  wait_line "$abort_line" 'committed transaction [0-9]+:|^samordna: ' 60 || exited "stall $n"
  line=$(sed -n "${LINE}p" "$log")
  [[ $line == 'samordna: '* ]] && eos_fail "b: stall $n: a fatal error after the abort: $line"
  [[ $line == *"committed transaction $((commits + 1)):"* ]] ||
    eos_fail "b: stall $n: after the abort, expected 'committed transaction $((commits + 1)):', got: $line"
  # The failed deliveries were librdkafka's local message timeout (the service logs the first one).
  awk -v from="$at_stop" -v to="$LINE" 'NR > from && NR <= to && /delivery to .* failed: Local: Message timed out/ { found = 1 }
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

eos_start rewind "$work/rewind-state" "$id"
pid=$EOS_PID
eos_wait_log "$log" 'assigned partition' 4 60 "$pid"
# 1. In the very first transaction if it can be: a dead letter has been produced, nothing committed.
wait_line 0 'dead-lettered ' 60 || exited "before stall 1"
grep -q 'committed transaction' "$log" &&
  eos_fail "b: a transaction was committed before the first stall (no dead letter in the first 1.5 s batch?)"
# Its records linger in librdkafka (linger.ms=1000) and time out, unless librdkafka sends them on
# the SIGCONT before its timeout scan: then the transaction commits, and the first stall is tried
# again in a later transaction, as the second is (up to 8 tries). Before the service learned its
# topics at start (client.h learn_topics), the first transaction's records also waited up to a
# second for the topics' metadata, and this stall never missed.
for ((try = 1; ; try++)); do
  stall 1 "$((try < 8))" "$((try > 1))"
  [[ $STALL == aborted ]] && break
  wait_line "$LINE" 'dead-lettered ' 60 || exited "before stall 1 (the feed ended already? lower EOS_LOAD_RATE)"
  LINE=$(wc -l <"$log")
done
# 2. Later, with offsets and a clock committed: in a transaction after a commit, open on the
# broker. Up to 8 tries.
for ((try = 1; ; try++)); do
  wait_line "$LINE" 'dead-lettered ' 60 || exited "before stall 2 (the feed ended already? lower EOS_LOAD_RATE)"
  LINE=$(wc -l <"$log")
  stall 2 "$((try < 8))" 1
  [[ $STALL == aborted ]] && break
done

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

# The aborted transactions' records reached the topic: read_uncommitted sees them, the comparison
# catches them as duplicates; read_committed (above) did not see them.
eos_check_uncommitted "b: the aborted transactions wrote nothing?"
eos_log "b: read_uncommitted sees $EOS_UNCOMMITTED notification records: $EOS_ABORTED of the transactions the service aborted, caught as duplicates; read_committed shows none of them"
EOS_OK=1
