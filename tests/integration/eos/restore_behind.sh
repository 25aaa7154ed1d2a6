#!/usr/bin/env bash
# eos.restore_behind: a state dir that a kill left behind its changelog, while another instance's
# transaction is open on that changelog. This is the window the crash test once hit by chance
# (a timer fired twice on a new machine): RocksDB is written after the Kafka commit, so a SIGKILL
# between the two leaves the store a transaction or more behind; the restart must read the
# committed rest from the changelog. A dead instance with ANOTHER transactional id (a replaced
# machine) leaves its transaction open until the broker's timeout, and that pins the changelog's
# last stable offset where the transaction began. A restore that takes the stable offset as the
# end finds "nothing to read", resumes from stale states and fires their timers again.
#   1. the service runs the feed; right after it starts, samordna_open_txn opens a transaction
#      on every changelog partition under another transactional id (the dead machine);
#   2. halfway, the service is frozen (SIGSTOP) and its state dir copied: a crash image, exactly
#      what a SIGKILL at that moment leaves on disk; then it runs on to the end and stops;
#   3. a restart on the copy must say that an open transaction holds the changelog and wait; the
#      test then ends that transaction (as the broker's timeout would), the restore reads on, and
#   4. the committed output equals simulate's: nothing twice, nothing missing.
# usage: restore_behind.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR SAMORDNA_OPEN_TXN
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
eos_init restore_behind "$1" "$2" "$3"
OPEN_TXN=${4:?usage: restore_behind.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR SAMORDNA_OPEN_TXN}
[[ -x $OPEN_TXN ]] || eos_fail "no samordna_open_txn at $OPEN_TXN"
helper=
end_helper() { [[ -n $helper ]] && kill -TERM "$helper" 2>/dev/null && wait "$helper" 2>/dev/null; helper=; return 0; }
trap 'end_helper; eos_cleanup' EXIT

eos_feed "${EOS_EPISODES:-600}" "${EOS_FEED_SEED:-4242}"
# Small transactions and small fetches, as in eos.crash: many commits, the work spread in time.
eos_config "maxBatch: 20"
EOS_RUN_ARGS=(-X max.partition.fetch.bytes=8192)
eos_load
id=$EOS_PREFIX-a
state=$EOS_WORK/state

eos_start first "$state" "$id"
pid=$EOS_PID
eos_wait_log "$EOS_WORK/first.log" 'assigned partition' 4 150 "$pid"
# The dead machine's open transaction, on every partition of the changelog.
"$OPEN_TXN" "$EOS_BOOTSTRAP" "$EOS_PREFIX.changelog" "$EOS_PREFIX-dead-machine" \
  >"$EOS_WORK/open_txn.out" 2>"$EOS_WORK/open_txn.err" &
helper=$!
for ((i = 0; i < 600; i++)); do
  grep -q '^open' "$EOS_WORK/open_txn.out" && break
  kill -0 "$helper" 2>/dev/null || { cat "$EOS_WORK/open_txn.err" >&2; eos_fail "samordna_open_txn exited"; }
  sleep 0.1
done
grep -q '^open' "$EOS_WORK/open_txn.out" || eos_fail "samordna_open_txn did not open its transaction in 60 s"
eos_log "another transactional id holds a transaction open on the changelog"

# Halfway: a crash image of the state dir.
half=$((EOS_EXPECTED / 2))
for ((i = 0; i < 1200; i++)); do
  n=$(eos_consume "$EOS_PREFIX.notifications" /dev/stdout --max "$half" --timeout-ms 1000 2>/dev/null | wc -l) || n=0
  ((n >= half)) && break
  eos_alive "$pid" || eos_fail "the service exited with $n of $EOS_EXPECTED notifications committed"
  sleep 0.1
done
((n >= half)) || eos_fail "only $n of $EOS_EXPECTED notifications committed after 120 s"
kill -STOP "$pid"
cp -a "$state" "$EOS_WORK/state-crash-image"
kill -CONT "$pid"
eos_log "state dir copied with the service frozen at $n of $EOS_EXPECTED notifications (a SIGKILL's image)"
eos_wait_output 300 "$pid"
eos_stop "$pid"

# The restart on the crash image: its checkpoints are behind the changelog's committed end.
eos_start second "$EOS_WORK/state-crash-image" "$id"
pid=$EOS_PID
eos_wait_log "$EOS_WORK/second.log" 'an open transaction holds the changelog' 1 120 "$pid"
eos_log "the restore waits for the open transaction: $(grep -m1 'an open transaction holds' "$EOS_WORK/second.log" | cut -c 1-200)"
end_helper
eos_log "ended the dead machine's transaction (abort), as the broker's timeout would"
eos_wait_log "$EOS_WORK/second.log" 'assigned partition' 4 150 "$pid"
grep -qE 'restored partition [0-9]+: [1-9][0-9]* changelog records' "$EOS_WORK/second.log" ||
  eos_fail "the restart restored nothing from the changelog: the crash image was not behind it"
sleep 3   # anything a stale state would fire, it fires now (event time: the partitions are at their end)
eos_stop "$pid"
eos_check
EOS_OK=1
