#!/usr/bin/env bash
# tests/integration/disk/full_simulate.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR: `simulate --state-dir` on
# a disk that fills up ends with exit 3 and a message naming the state dir, not SIGABRT; once space is
# freed the state dir reopens. Needs a small tmpfs (root, or CAP_SYS_ADMIN): where mounting is
# refused the test FAILS and says so, it never passes without having filled a disk (README.md).
#
# Sizes: 64 KiB (full at open: the MANIFEST), 1 MiB (full in the write-ahead log after ~1/40 of the
# feed), 12 MiB (full later, after memtables were flushed to table files and a new log begun).
set -euo pipefail
SAMORDNA=$1
SAMORDNA_GEN=$2
SOURCE=$(cd "$3" && pwd)
NAME=disk.full_simulate
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
disk_init

"$SAMORDNA_GEN" --episodes 20000 --seed 13 --quiet --out "$DISK_WORK/feed.jsonl"
for size in 64k 1m 12m; do
  mnt=$DISK_WORK/mnt-$size
  disk_mount "$mnt" "$size"
  rc=0
  "$SAMORDNA" simulate --rules "$SOURCE/rules/sets" --events "$DISK_WORK/feed.jsonl" \
    --state-dir "$mnt/state" --until 2027-01-01T00:00:00Z >"$DISK_WORK/out-$size.jsonl" \
    2>"$DISK_WORK/err-$size.txt" || rc=$?
  grep -v '^{' "$DISK_WORK/err-$size.txt" >"$DISK_WORK/msg-$size.txt" || true
  ((rc < 128)) || disk_fail "$size: simulate died of signal $((rc - 128)) on a full disk: $(tail -c 400 "$DISK_WORK/msg-$size.txt")"
  ((rc == 3)) || disk_fail "$size: simulate on a full disk exited $rc, not 3: $(tail -c 400 "$DISK_WORK/msg-$size.txt")"
  grep -qF "state dir $mnt/state" "$DISK_WORK/msg-$size.txt" ||
    disk_fail "$size: the error does not name the state dir: $(head -c 400 "$DISK_WORK/msg-$size.txt")"
  grep -q 'the disk is full; free space on it and start again' "$DISK_WORK/msg-$size.txt" ||
    disk_fail "$size: the error does not say the disk is full: $(head -c 400 "$DISK_WORK/msg-$size.txt")"
  (($(wc -l <"$DISK_WORK/msg-$size.txt") == 1)) ||
    disk_fail "$size: expected one error line, got: $(head -c 600 "$DISK_WORK/msg-$size.txt")"
  disk_log "$size: exit 3 after $(wc -l <"$DISK_WORK/out-$size.jsonl") notifications: $(cut -c 1-150 "$DISK_WORK/msg-$size.txt")..."
  # Space freed: the state dir (a torn last WAL record at most) opens again.
  mount -o remount,size=256m "$mnt" || disk_fail "cannot grow the tmpfs at $mnt"
  rc=0
  "$SAMORDNA" simulate --rules "$SOURCE/rules/sets" --events /dev/null --state-dir "$mnt/state" \
    >/dev/null 2>"$DISK_WORK/reopen-$size.txt" || rc=$?
  ((rc == 0)) || disk_fail "$size: after space was freed the state dir does not reopen: exit $rc: $(head -c 400 "$DISK_WORK/reopen-$size.txt")"
  disk_umount "$mnt"
done
disk_log "after each: space freed, the state dir reopens (exit 0)"
DISK_OK=1
