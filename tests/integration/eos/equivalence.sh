#!/usr/bin/env bash
# eos.equivalence: one `samordna run` over a whole feed, stopped with SIGTERM, writes exactly what
# `samordna simulate` writes for the same feed: every notification once, byte for byte, and one dead
# letter per rejected line. Then a second instance on an empty state dir (a new machine) restores
# every partition from the changelog, finds nothing left to do and stops by itself (--exit-at-end);
# the output is unchanged. README.md in this folder; usage: equivalence.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR
# Environment: EOS_EPISODES (1000), EOS_FEED_SEED (1101), EOS_KEEP=1 keeps the work dir and topics.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
eos_init equivalence "$@"

eos_feed "${EOS_EPISODES:-1000}" "${EOS_FEED_SEED:-1101}" 0.002
# shellcheck disable=SC2119  # no extra config lines: the service's defaults (maxBatch 1000, maxBatchMs 100)
eos_config
eos_selfcheck
eos_load

eos_start run "$EOS_WORK/state" "$EOS_PREFIX-a"
pid=$EOS_PID
eos_wait_log "$EOS_WORK/run.log" 'assigned partition' 4 90 "$pid"
eos_wait_output 240 "$pid"
sleep 2                          # anything after the last expected notification would show too
eos_stop "$pid"

# One clean run consumes every event in the topic exactly once (unless a transaction was aborted
# and its inputs re-read, which this run must not need).
grep -q 'aborting transaction' "$EOS_WORK/run.log" && eos_fail "a transaction was aborted in a clean run"
in_topic=$((EOS_EVENTS - $(wc -l <"$EOS_WORK/produce-refused.lines")))
consumed=$(sed -nE 's/.*stopped: consumed ([0-9]+) .*/\1/p' "$EOS_WORK/run.log")
[[ $consumed == "$in_topic" ]] || eos_fail "the service consumed '$consumed' events, the topic holds $in_topic"

eos_check

# A new machine: empty state dir, another instance id, the same group. --exit-at-end must end it once
# it has restored its partitions and found the input consumed and no timer due before `until`.
EOS_RUN_ARGS=(--exit-at-end)
eos_start again "$EOS_WORK/state-again" "$EOS_PREFIX-b"
pid=$EOS_PID
rc=0
for ((i = 0; i < 900; i++)); do eos_alive "$pid" || break; sleep 0.1; done
eos_alive "$pid" && eos_fail "--exit-at-end: the second instance still runs after 90 s"
wait "$pid" || rc=$?
((rc == 0)) || eos_fail "--exit-at-end: the second instance exited $rc"
restored=$(sed -nE 's/.*restored partition [0-9]+: ([0-9]+) changelog records.*/\1/p' "$EOS_WORK/again.log" | awk '{ s += $1 } END { print s + 0 }')
((restored > 0)) || eos_fail "the second instance restored no changelog records"
grep -q 'caught up .* consumed 0 .* notifications 0 ' "$EOS_WORK/again.log" ||
  eos_fail "the second instance did not catch up with nothing to do: $(grep -m1 'caught up' "$EOS_WORK/again.log")"
eos_log "a new instance restored $restored changelog records, found nothing to do and exited 0"
eos_check
EOS_OK=1
