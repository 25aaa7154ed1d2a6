#!/usr/bin/env bash
# tests/integration/disk/full_run.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR: `samordna run` whose state dir
# fills up ends with exit 3 and a message naming the state dir (SIGABRT before); restarted once
# space is freed it goes on exactly once: the committed output equals simulate's (README.md).
#
# The service writes RocksDB only after the Kafka transactions committed (write-behind: at a spill,
# here whenever more than 50 episodes are held), so the transactions whose states the failed write
# held are committed (their changelog records too) and the restart restores them from the changelog.
# A real broker (SAMORDNA_KAFKA_BOOTSTRAP, else skip 77) and a 1 MiB tmpfs (root; a refused mount
# FAILS the test). Uses eos/lib.sh for the feed, config, processes and the comparison.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../eos/lib.sh
source "$HERE/../eos/lib.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

eos_init disk-full "$1" "$2" "$3"
NAME=$EOS_NAME
full_run_cleanup() {
  local rc=$?
  trap - EXIT
  eos_kill_listed  # nothing may hold the mount (disk_umount_all falls back to a lazy unmount)
  sleep 0.2
  disk_umount_all
  (exit "$rc")
  eos_cleanup
}
trap full_run_cleanup EXIT

eos_feed "${DISK_EPISODES:-1500}" "${DISK_FEED_SEED:-4301}" 0.002
eos_selfcheck
# Many small transactions, so the disk fills between two commits, not at the first; few episodes
# held (writeBehindEpisodes), so the store is written every few transactions as the work goes on
# (with the defaults this feed may end before it fills the disk).
eos_config "maxBatch: 20" "writeBehindEpisodes: 50"
eos_load

mnt=$EOS_WORK/mnt
disk_mount "$mnt" "${DISK_TMPFS_SIZE:-1m}"
state=$mnt/state

# ---------------------------------------------------------------- the disk fills up
eos_start full "$state" "$EOS_PREFIX-a"
pid=$EOS_PID
until=$((SECONDS + 180))
while eos_alive "$pid"; do
  ((SECONDS < until)) || eos_fail "run on a ${DISK_TMPFS_SIZE:-1m} state dir still running after 180 s: the disk never filled (a larger feed or a smaller tmpfs)"
  sleep 0.2
done
rc=0
wait "$pid" || rc=$?
((rc < 128)) || eos_fail "run died of signal $((rc - 128)) when its state dir filled up: $(grep -v '^\[' "$EOS_WORK/full.log" | tail -c 400)"
((rc == 3)) || eos_fail "run on a full state dir exited $rc, not 3: $(tail -n 3 "$EOS_WORK/full.log")"
grep -qF "samordna: write to state dir $state: the disk is full; free space on it and start again" "$EOS_WORK/full.log" ||
  eos_fail "the service's last words do not name the full state dir: $(tail -n 2 "$EOS_WORK/full.log")"
n=$(eos_consume "$EOS_PREFIX.notifications" /dev/stdout --timeout-ms 3000 2>/dev/null | wc -l)
((n > 0 && n < EOS_EXPECTED)) ||
  eos_fail "the disk filled with $n of $EOS_EXPECTED notifications committed: not in the middle of the work (DISK_TMPFS_SIZE)"
eos_log "exit 3 with $n of $EOS_EXPECTED notifications committed: $(grep -F 'samordna: write to state dir' "$EOS_WORK/full.log" | cut -c 1-140)..."

# ---------------------------------------------------------------- space freed, restart
mount -o remount,size=256m "$mnt" || eos_fail "cannot grow the tmpfs at $mnt"
eos_start after "$state" "$EOS_PREFIX-a"
pid=$EOS_PID
eos_wait_output 240 "$pid"
sleep 2
eos_stop "$pid"
restored=$(sed -nE 's/.*restored partition [0-9]+: ([0-9]+) changelog records.*/\1/p' "$EOS_WORK/after.log" |
             awk '{ s += $1 } END { print s + 0 }')
eos_log "restart on the same state dir: $restored changelog records restored"
eos_check
EOS_OK=1
