#!/usr/bin/env bash
# tests/integration/disk/wal.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR: a damaged write-ahead log stops
# the store; a torn last record (what a crash leaves) does not. No broker needed (README.md).
#
#   a. damaged: a closed state dir whose WAL has 16 bytes flipped in the middle. `simulate` must
#      exit 3 naming the state dir, with the advice to restore (RocksDB's default recovery mode
#      opened it, dropped every record from the damage on, and exited 0). `run` refuses it at open,
#      before it talks to Kafka: exit 3 (as every damaged state dir, eos.error_paths e) and the
#      changelog advice.
#   b. torn tail: the same WAL cut short by 1, 1000 and 40000 bytes (an incomplete last record, as a
#      kill -9 or a full disk between the write(2) calls of one record leave it) must reopen.
#   c. kill -9: `simulate --state-dir --memtable-mib 4` SIGKILLed at DISK_KILLS (6) random moments
#      in the first half of a run (DISK_SEED), flushes and compactions included; each state dir
#      must reopen (exit 0).
#   d. kill -9 of `simulate --partitions 2 --no-wal` twice: the state dir reopens and a replay of
#      the feed into it ends with the clean run's episode views.
set -euo pipefail
SAMORDNA=$1
SAMORDNA_GEN=$2
SOURCE=$(cd "$3" && pwd)
NAME=disk.wal
T0=$SECONDS
log() { printf '[%s +%3ds] %s\n' "$NAME" $((SECONDS - T0)) "$*"; }
fail() {
  printf '[%s +%3ds] FAIL: %s\n' "$NAME" $((SECONDS - T0)) "$*" >&2
  exit 1
}
[[ -x $SAMORDNA && -x $SAMORDNA_GEN ]] || fail "no samordna / samordna_gen binary"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/samordna-disk-wal.XXXX")
OK=0
cleanup() {
  local rc=$?
  if ((rc == 0 && OK)) && [[ ${DISK_KEEP:-0} != 1 ]]; then rm -rf "$WORK"; else echo "[$NAME] work dir kept: $WORK" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
RULES=$SOURCE/rules/sets
SEED=${DISK_SEED:-$RANDOM}
log "work dir $WORK, seed $SEED"

"$SAMORDNA_GEN" --episodes 2000 --seed 11 --quiet --out "$WORK/feed.jsonl"

# A closed state dir holding the whole feed; its one WAL holds every write (the memtables were never
# flushed: the store is far below write_buffer_bytes).
make_state() {  # DIR
  local rc=0
  "$SAMORDNA" simulate --rules "$RULES" --events "$WORK/feed.jsonl" --state-dir "$1" >/dev/null 2>&1 || rc=$?
  ((rc == 0 || rc == 1)) || fail "simulate into $1 exited $rc"
  compgen -G "$1/*.log" >/dev/null || fail "no write-ahead log in $1"
}
wal_of() {  # DIR: the largest *.log
  ls -S "$1"/*.log | head -n 1
}
reopen() {  # DIR -> exit status of simulate over no events; stderr in $WORK/reopen.err
  local rc=0
  "$SAMORDNA" simulate --rules "$RULES" --events /dev/null --state-dir "$1" >/dev/null 2>"$WORK/reopen.err" || rc=$?
  return "$rc"
}

# ---------------------------------------------------------------- a. damaged in the middle
make_state "$WORK/a"
wal=$(wal_of "$WORK/a")
size=$(stat -c %s "$wal")
((size > 100000)) || fail "the WAL $wal is only $size bytes"
python3 - "$wal" <<'PY'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
mid = len(data) // 2
for i in range(mid, mid + 16):
    data[i] ^= 0xFF
open(path, "wb").write(data)
PY
cp -a "$WORK/a" "$WORK/a-run"
rc=0
reopen "$WORK/a" || rc=$?
((rc == 3)) || fail "a: simulate on a state dir with a damaged WAL exited $rc, not 3: $(head -c 400 "$WORK/reopen.err")"
grep -qF "state dir $WORK/a is damaged" "$WORK/reopen.err" ||
  fail "a: the error does not name the damaged state dir: $(head -c 400 "$WORK/reopen.err")"
grep -q 'Corruption' "$WORK/reopen.err" || fail "a: the error does not say Corruption: $(head -c 400 "$WORK/reopen.err")"
grep -q 'restores every partition from the changelog' "$WORK/reopen.err" ||
  fail "a: no advice to restore: $(head -c 400 "$WORK/reopen.err")"
log "a: damaged WAL (16 bytes flipped at byte $((size / 2)) of $size): simulate exit 3: $(cut -c 1-160 "$WORK/reopen.err")..."

rc=0
timeout 60 "$SAMORDNA" run --state-dir "$WORK/a-run" --rules "$RULES" --bootstrap 127.0.0.1:1 \
  >"$WORK/run.err" 2>&1 </dev/null || rc=$?
((rc == 3)) || fail "a: run on a state dir with a damaged WAL exited $rc, not 3: $(head -c 400 "$WORK/run.err")"
grep -qF "samordna: state dir $WORK/a-run: " "$WORK/run.err" || fail "a: run's error does not name the state dir"
grep -q 'every partition is restored from the changelog' "$WORK/run.err" || fail "a: run gives no changelog advice"
log "a: damaged WAL: run exit 3 at open, with the changelog advice"

# ---------------------------------------------------------------- b. torn tail
make_state "$WORK/b"
wal=$(wal_of "$WORK/b")
cp -a "$WORK/b" "$WORK/b.orig"
for cut in 1 1000 40000; do
  rm -rf "$WORK/b"
  cp -a "$WORK/b.orig" "$WORK/b"
  size=$(stat -c %s "$wal")
  truncate -s $((size - cut)) "$wal"
  rc=0
  reopen "$WORK/b" || rc=$?
  ((rc == 0)) || fail "b: a WAL cut short by $cut bytes (a torn last record) does not reopen: exit $rc: $(head -c 400 "$WORK/reopen.err")"
done
log "b: WAL cut short by 1, 1000, 40000 bytes: each reopens (exit 0)"

# ---------------------------------------------------------------- c. kill -9 mid-run
"$SAMORDNA_GEN" --episodes 20000 --seed 12 --quiet --out "$WORK/big.jsonl"
kills=${DISK_KILLS:-6}
RANDOM=$SEED
# Memtables of 4 MiB: the run flushes (and compacts) many times, so the kills land in those too,
# not only between writes to the WAL (the default 1 GiB holds this whole feed).
small=(--memtable-mib 4)
t0=$(date +%s%N)
"$SAMORDNA" simulate --rules "$RULES" --events "$WORK/big.jsonl" --state-dir "$WORK/c0" "${small[@]}" \
  >/dev/null 2>&1 || true
c_ms=$((($(date +%s%N) - t0) / 1000000))
rm -rf "$WORK/c0"
for ((k = 1; k <= kills; k++)); do
  d=$WORK/c$k
  "$SAMORDNA" simulate --rules "$RULES" --events "$WORK/big.jsonl" --state-dir "$d" "${small[@]}" \
    >/dev/null 2>&1 &
  pid=$!
  # Within the first half of a whole run's time (the machine's own speed decides how long), after
  # the open.
  ms=$((c_ms / 8 + RANDOM % (c_ms / 2 - c_ms / 8 + 1)))
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  kill -0 "$pid" 2>/dev/null || fail "c: simulate (kill $k) ended before it was killed; a larger feed is needed"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  compgen -G "$d/*.log" >/dev/null || fail "c: kill $k: nothing written yet"
  rc=0
  reopen "$d" || rc=$?
  ((rc == 0)) || fail "c: state dir after kill -9 number $k does not reopen: exit $rc: $(head -c 400 "$WORK/reopen.err")"
  rm -rf "$d"
done
log "c: $kills kill -9 mid-simulate (seed $SEED): every state dir reopens"

# ---------------------------------------------------------------- d. kill -9 without a WAL
# `--partitions 2 --no-wal` (a bulk replay): a kill -9 leaves each partition's store at its last
# flush; the state dir reopens, and replaying the whole feed into it ends in the same episode views
# as a clean run (what was kept is a consistent prefix: its events are duplicates now). The killed
# runs have 4 MiB memtables, so there is a flushed prefix to keep.
t0=$(date +%s%N)
"$SAMORDNA" simulate --rules "$RULES" --events "$WORK/big.jsonl" --state-dir "$WORK/d-clean" \
  --partitions 2 --no-wal --until 2027-01-01T00:00:00Z --episodes "$WORK/d-clean.views" >/dev/null 2>&1 || true
clean_ms=$((($(date +%s%N) - t0) / 1000000))
[[ -s $WORK/d-clean.views ]] || fail "d: the clean run wrote no episode views"
for ((k = 1; k <= 2; k++)); do
  d=$WORK/d$k
  "$SAMORDNA" simulate --rules "$RULES" --events "$WORK/big.jsonl" --state-dir "$d" --partitions 2 \
    --no-wal "${small[@]}" >/dev/null 2>&1 &
  pid=$!
  # Within the first half of the clean run's time (the machine's own speed decides how long).
  ms=$((clean_ms / 8 + RANDOM % (clean_ms / 2 - clean_ms / 8 + 1)))
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  kill -0 "$pid" 2>/dev/null || fail "d: simulate (kill $k) ended before it was killed; a larger feed is needed"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  rc=0
  "$SAMORDNA" simulate --rules "$RULES" --events "$WORK/big.jsonl" --state-dir "$d" --partitions 2 \
    --no-wal --until 2027-01-01T00:00:00Z --episodes "$d.views" >/dev/null 2>"$WORK/reopen.err" || rc=$?
  ((rc == 0 || rc == 1)) || fail "d: replay into the state dir of kill -9 number $k: exit $rc: $(head -c 400 "$WORK/reopen.err")"
  cmp -s "$WORK/d-clean.views" "$d.views" || fail "d: kill $k: the episode views differ from a clean run's"
  rm -rf "$d" "$d.views"
done
log "d: 2 kill -9 of --partitions 2 --no-wal: each state dir reopens, a replay ends as a clean run"

OK=1
log PASS
