#!/usr/bin/env bash
# eos.rebalance: two instances in one consumer group (own state dirs and instance ids, one config)
# share the partitions; one is SIGKILLed mid-run and never comes back. The survivor must take over
# the dead one's partitions (assign, restore them from the changelog, consume and fire their timers)
# and the read_committed output must still be exactly simulate's.
# README.md in this folder; usage: rebalance.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR
# Environment: EOS_EPISODES (1500), EOS_FEED_SEED (3303), EOS_SEED (kill timing; default random,
# printed), EOS_KEEP=1 keeps the work dir and topics.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
eos_init rebalance "$@"

seed=${EOS_SEED:-$(( ($(date +%s) + $$) % 1000000 ))}
RANDOM=$seed
eos_log "kill timing seed $seed (rerun with EOS_SEED=$seed)"

eos_feed "${EOS_EPISODES:-1500}" "${EOS_FEED_SEED:-3303}" 0.002
eos_config "maxBatch: 20"       # small transactions: a run long enough to die in the middle of
# All partitions by turns: small fetches of small producer batches (crash.sh says why).
EOS_RUN_ARGS=(-X max.partition.fetch.bytes=8192)
EOS_PRODUCE_ARGS=(-X batch.size=8192)
eos_selfcheck
eos_load

# A first (it creates the other topics and takes all 4 partitions), then B joins: the group
# rebalances to 2 + 2 (range assignor).
eos_start a "$EOS_WORK/state-a" "$EOS_PREFIX-a"
pid_a=$EOS_PID
eos_wait_log "$EOS_WORK/a.log" 'assigned partition' 4 150 "$pid_a"
eos_start b "$EOS_WORK/state-b" "$EOS_PREFIX-b"
pid_b=$EOS_PID
# Range assignor, 2 members, 4 partitions: B gets 2 (each logged once restored).
eos_wait_log "$EOS_WORK/b.log" 'assigned partition' 2 150 "$pid_b"
mapfile -t b_parts < <(sed -nE 's/.*assigned partition ([0-9]+) .*/\1/p' "$EOS_WORK/b.log" | sort -u)
((${#b_parts[@]} >= 1 && ${#b_parts[@]} < 4)) || eos_fail "B holds partitions '${b_parts[*]}', expected some, not all"
eos_wait_log "$EOS_WORK/a.log" 'revoked partition' 1 60 "$pid_a"
eos_log "B holds partitions ${b_parts[*]}"

delay=$(printf '%d.%03d' $((2 + RANDOM % 2)) $((RANDOM % 1000)))
sleep "$delay"
a_lines_at_kill=$(wc -l <"$EOS_WORK/a.log")
eos_kill "$pid_b"
eos_log "SIGKILL B ${delay}s after its assignment; it is not restarted"

# The survivor: its session-timeout rebalance gives it B's partitions; it restores them (waiting for
# B's open transaction to be aborted by the broker) and finishes them.
eos_wait_output 300 "$pid_a"
sleep 2
tail -n +"$((a_lines_at_kill + 1))" "$EOS_WORK/a.log" >"$EOS_WORK/a-after-kill.log"
# "restored partition" is logged only when the changelog holds records past A's checkpoint for it,
# so it is required in sum: B committed work that A had to read back.
restored_from_b=0
for p in "${b_parts[@]}"; do
  grep -q "assigned partition $p " "$EOS_WORK/a-after-kill.log" ||
    eos_fail "A never took over partition $p after B died (a-after-kill.log)"
  line=$(grep -E "restored partition $p: " "$EOS_WORK/a-after-kill.log" | tail -n 1 || true)
  if [[ -n $line ]]; then
    n=$(sed -nE 's/.*restored partition [0-9]+: ([0-9]+) changelog records.*/\1/p' <<<"$line")
    restored_from_b=$((restored_from_b + n))
    eos_log "A took over partition $p: ${line#*] \[info\] }"
  else
    eos_log "A took over partition $p (no changelog record past its checkpoint: B committed none there)"
  fi
done
((restored_from_b > 0)) || eos_fail "A restored no changelog record of B's partitions (B did no work before the kill?)"
eos_stop "$pid_a"
eos_check

# What B left open was aborted: those records exist in the topic but read_committed never shows them.
all=$(eos_consume "$EOS_PREFIX.notifications" /dev/stdout --timeout-ms 3000 -X isolation.level=read_uncommitted 2>/dev/null | wc -l)
eos_log "read_uncommitted sees $all notification records: $((all - EOS_EXPECTED)) of them from transactions aborted when B died"
EOS_OK=1
