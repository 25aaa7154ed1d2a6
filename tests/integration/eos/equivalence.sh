#!/usr/bin/env bash
# eos.equivalence: one `samordna run` over a whole feed, stopped with SIGTERM, writes exactly what
# `samordna simulate` writes for the same feed: every notification once, byte for byte, and one dead
# letter per rejected line. README.md in this folder; usage: equivalence.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR
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
EOS_OK=1
