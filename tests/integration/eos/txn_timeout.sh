#!/usr/bin/env bash
# eos.txn_timeout: the process stalls (SIGSTOP ... SIGCONT: a VM pause, a GC or disk stall) in the
# middle of a replay, with a transaction open, for longer than its transaction timeout. The broker
# aborts that transaction while the process is stopped; the service, resumed, must not commit
# anything of it, must say why it stops, and, restarted on the same state dir and instance id, must
# finish the work. The read_committed output must be exactly simulate's.
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
# always sees the fenced exit.)
#
# The broker aborts timed-out transactions on a timer (transaction.abort.timed.out.transaction.
# cleanup.interval.ms): deploy/kafka/kafka.sh sets it to 1 s (Kafka's default is 10 s), so the abort
# comes within the stall and the stall stays below the consumer session timeout (10 s): the group
# does not rebalance, only the transaction fails. The abort is checked on the broker while the
# process is stopped (Kafka's TransactionsCommand: Ongoing, then CompleteAbort with the epoch + 1).
# README.md in this folder; usage: txn_timeout.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR
# Environment: EOS_EPISODES (8000), EOS_FEED_SEED (5505), EOS_KEEP=1 keeps the work dir and topics.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
eos_init txn_timeout "$@"

timeout_ms=3000   # transactionTimeoutMs: the smallest that leaves healthy 1 s batches a margin
stall_limit=8     # seconds stopped at most: below the consumer session timeout (10 s)

eos_feed "${EOS_EPISODES:-8000}" "${EOS_FEED_SEED:-5505}" 0.002
# Transactions bounded by time only (maxBatchMs, at most half the timeout): one is open nearly all
# the time, so the stop lands in one, and it holds thousands of records when the broker aborts it.
eos_config "maxBatch: 1000000" "maxBatchMs: 1000" "transactionTimeoutMs: $timeout_ms"
# -vv: a line per committed transaction. Small fetches, as in crash.sh: every transaction spans the
# four partitions, and so does the restore after the restart.
EOS_RUN_ARGS=(-v -X max.partition.fetch.bytes=8192)
eos_selfcheck
eos_load

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
txnerr=$(grep -m 1 'TXNERR.*Current transaction failed in state [A-Za-z]*: [0-9]* message(s) timed out on .*requires epoch bump' <<<"$after" || true)
[[ -n $txnerr ]] || eos_fail "no librdkafka 'TXNERR ... message(s) timed out ... requires epoch bump' after the SIGCONT (the local message timeout)"
aborting=$(grep -m 1 'aborting transaction: .*message(s) timed out' <<<"$after" || true)
[[ -n $aborting ]] || eos_fail "the service did not try to abort the failed transaction ('aborting transaction: ... timed out'): ${last:-no samordna: line}"
[[ $last == 'samordna: abort_transaction: '*fenced* ]] ||
  eos_fail "the stalled service's last words do not say that the abort was fenced: ${last:-$(tail -n 2 "$log1")}"
eos_log "librdkafka: ${txnerr#*TXNERR }"
eos_log "service: ${aborting#*] }"
eos_log "exit 3: $last"
grep -q 'committed transaction' <<<"$after" && eos_fail "the stalled service committed a transaction after the SIGCONT"

# A supervisor restarts it: same state dir, same instance id. It gets a new epoch, restores what
# RocksDB lacks from the changelog and finishes the replay, without another abort.
eos_start run2 "$EOS_WORK/state" "$id"
pid=$EOS_PID
eos_wait_output 90 "$pid"
sleep 2
eos_stop "$pid"
grep -q 'aborting transaction' "$EOS_WORK/run2.log" && eos_fail "the restarted service aborted a transaction"
grep -q 'committed transaction 1:' "$EOS_WORK/run2.log" || eos_fail "the restarted service committed nothing: was the work all done before the stall?"
eos_check

# The aborted transaction's records did reach the topic: read_uncommitted sees them, the
# comparison catches them as duplicates, read_committed (above) did not see them.
eos_consume "$EOS_PREFIX.notifications" "$EOS_WORK/uncommitted.jsonl" --timeout-ms 3000 \
  -X isolation.level=read_uncommitted 2>/dev/null || eos_fail "read_uncommitted consume failed"
all=$(wc -l <"$EOS_WORK/uncommitted.jsonl")
((all > EOS_EXPECTED)) || eos_fail "read_uncommitted sees $all records, no more than the $EOS_EXPECTED committed: the aborted transaction wrote nothing?"
if eos_compare "$EOS_WORK/expected.jsonl" "$EOS_WORK/uncommitted.jsonl" uncommitted >/dev/null ||
   [[ ! -s $EOS_WORK/uncommitted.duplicate.ids ]]; then
  eos_fail "self-check: the read_uncommitted output (aborted records included) was not caught as duplicates"
fi
eos_log "read_uncommitted sees $all notification records: $((all - EOS_EXPECTED)) of the transaction the broker aborted, caught as duplicates; read_committed shows none of them"
EOS_OK=1
