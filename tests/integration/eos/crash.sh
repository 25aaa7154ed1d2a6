#!/usr/bin/env bash
# eos.crash: `samordna run` SIGKILLed at random moments, again and again (one stop is a clean
# SIGTERM mid-run instead), restarted each time on the same config; halfway the state dir is wiped and the service comes back as a new machine (new state
# dir, new instance id) that has only the changelog. Then it runs to the end and stops with SIGTERM.
# The read_committed output must still be exactly simulate's: nothing twice, nothing missing, every
# byte the same, and one dead letter per rejected line.
# README.md in this folder; usage: crash.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR
# Environment: EOS_EPISODES (2500), EOS_FEED_SEED (2202), EOS_KILLS (10), EOS_SEED (kill timing;
# default: random, printed), EOS_KEEP=1 keeps the work dir and topics.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
eos_init crash "$@"

kills=${EOS_KILLS:-10}
((kills >= 2)) || eos_fail "EOS_KILLS must be at least 2 (one of them on the new machine)"
seed=${EOS_SEED:-$(( ($(date +%s) + $$) % 1000000 ))}
RANDOM=$seed
eos_log "kill timing seed $seed (rerun with EOS_SEED=$seed), $kills kills"

eos_feed "${EOS_EPISODES:-2500}" "${EOS_FEED_SEED:-2202}" 0.002
# Small transactions: many more commit boundaries for a kill to fall between, and a run long
# enough (~30 s of processing on 2 cores) that the kills land while there is work in flight.
eos_config "maxBatch: 20"
# Fetch at most 8 KiB (~100 events) per partition: the backlog is then consumed from all four
# partitions by turns, as live traffic would be. With librdkafka's default (1 MiB) one partition's
# whole backlog comes first, and every run before the last would only ever work on that one.
EOS_RUN_ARGS=(-X max.partition.fetch.bytes=8192)
# ... and small producer batches: a fetch returns at least one whole stored batch per partition
# whatever max.partition.fetch.bytes says (KIP-74), and with produce's default batches that is
# thousands of events, so one or two partitions' backlogs came first and the kills never met the
# other partitions' work.
EOS_PRODUCE_ARGS=(-X batch.size=8192)
eos_selfcheck
eos_load

state=$EOS_WORK/state
id=$EOS_PREFIX-a
wipe_at=$((kills / 2 + 1))
: >"$EOS_WORK/kills.txt"
for ((k = 1; k <= kills; k++)); do
  mode=running
  if ((k == wipe_at)); then
    # A new machine: no RocksDB, another instance id (so the dead one's open transaction is not
    # fenced but left to time out), and the kill falls in the middle of the full restore.
    rm -rf "$state"
    state=$EOS_WORK/state-new-machine
    id=$EOS_PREFIX-b
    mode=restoring
    eos_log "state dir wiped: restart $k is a new machine ($id) with nothing but the changelog"
  elif ((k == 2)); then
    mode=restoring
  elif ((k == wipe_at - 2)); then
    mode=sigterm   # a clean stop mid-run: commits what is in flight, closes, exits 0
  fi
  eos_start "run$k" "$state" "$id"
  pid=$EOS_PID
  log=$EOS_WORK/run$k.log
  if [[ $mode == restoring ]]; then
    # Right after the first partition is restored, while the next ones are.
    eos_wait_log "$log" 'restored partition|assigned partition' 1 150 "$pid"
    delay=$(printf '0.%03d' $((RANDOM % 300)))
  else
    eos_wait_log "$log" 'assigned partition' 4 150 "$pid"
    delay=$(printf '%d.%03d' $((RANDOM % 4000 / 1000)) $((RANDOM % 1000)))
    # 0.5 s at least
    [[ $delay == 0.[0-4]* ]] && delay=0.5$((RANDOM % 100))
  fi
  sleep "$delay"
  last=$(grep -E 'restored|assigned|consumed|dead-lettered' "$log" | tail -n 1 | cut -c 1-160 || true)
  if [[ $mode == sigterm ]]; then
    eos_stop "$pid"
  else
    eos_kill "$pid"
  fi
  echo "kill $k: $mode +${delay}s at +$((SECONDS - EOS_T0))s instance $id; last line: $last" >>"$EOS_WORK/kills.txt"
  eos_log "$([[ $mode == sigterm ]] && echo SIGTERM || echo SIGKILL) $k/$kills ($mode, ${delay}s after the wait)"
done
cat "$EOS_WORK/kills.txt"
# The new machine read its state from the changelog, from the start (in restart $wipe_at or, if
# that was killed before a partition was done, a later one).
new_machine_logs=()
for ((k = wipe_at; k <= kills; k++)); do new_machine_logs+=("$EOS_WORK/run$k.log"); done
grep -qE 'restored partition [0-9]+: [1-9][0-9]* changelog records from offset 0 ' "${new_machine_logs[@]}" ||
  eos_fail "no restart from $wipe_at on (empty state dir) restored anything from the changelog's start"

eos_start final "$state" "$id"
pid=$EOS_PID
eos_wait_log "$EOS_WORK/final.log" 'assigned partition' 4 150 "$pid"
eos_wait_output 300 "$pid"
sleep 2
eos_stop "$pid"
final_consumed=$(sed -nE 's/.*stopped: consumed ([0-9]+) .*/\1/p' "$EOS_WORK/final.log")
eos_log "the final run consumed ${final_consumed:-?} of $((EOS_EVENTS - $(wc -l <"$EOS_WORK/produce-refused.lines"))) events"
eos_check

# The kills must have hit work in flight, or the test proved little: the notifications of the
# transactions they cut short are in the topic, and only read_uncommitted shows them.
# Those records are also the harness's proof on real broker data: compared as if they were the
# output, they must be caught as duplicates.
eos_check_uncommitted "no kill cut a transaction short: the kills missed the work; raise EOS_EPISODES"
eos_log "read_uncommitted sees $EOS_UNCOMMITTED notification records: $EOS_ABORTED from transactions the kills aborted ($(wc -l <"$EOS_WORK/uncommitted.duplicate.ids") ids twice), caught as duplicates by the comparison; read_committed shows none of them"
EOS_OK=1
