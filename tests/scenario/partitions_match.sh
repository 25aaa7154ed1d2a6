#!/usr/bin/env bash
# `samordna simulate --partitions N` (the feed split by episode over N threads, as Kafka splits a
# topic) gives what one partition gives: the same notifications byte for byte, in the same order
# within each episode; the same rejection lines in line order; the same episode views. The feed is
# every scenario case's events, 20 times over with distinct episode ids (about 14,000 lines, so
# units of work and batches turn over many times), ordered by processing time as a hospital's feed
# is, plus lines that are not events. Three partitions run without a write-ahead log and with
# memtables of 1 MiB each (`--no-wal --memtable-mib 3`): they hold their episodes in memory
# (write-behind) with room for 256 each, so they spill to the store and read episodes back from it
# many times, and their stores flush many times where one partition's 1 GiB never does; and still
# they agree. Then: a state dir keeps its partition count, and another count is refused
# (exit 2); so is a memtable budget of 0; a full disk under the output is exit 3.
#   partitions_match.sh SAMORDNA_BINARY RULES_DIR CASES_DIR
set -euo pipefail
bin=$1 rules=$2 cases=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$(dirname "$0")/cases_feed.sh" "$cases" 20 >"$work/feed.jsonl"
# Lines that are no events, among the others.
awk 'NR % 997 == 0 { print "{not json" } NR % 1499 == 0 { print "{\"eventId\":42}" } { print }' \
  "$work/feed.jsonl" >"$work/feed2.jsonl"
lines=$(wc -l <"$work/feed2.jsonl")

run() {  # PARTITIONS [ARGS...] -> $work/p$1.{out,err,episodes,rc}
  local rc=0 p=$1
  shift
  "$bin" simulate --rules "$rules" --events "$work/feed2.jsonl" --until 2100-01-01T00:00:00Z \
    --retention-days 0 --partitions "$p" --episodes "$work/p$p.episodes" --state-dir "$work/state$p" \
    --stats "$@" >"$work/p$p.out" 2>"$work/p$p.err" || rc=$?
  echo "$rc" >"$work/p$p.rc"
}
per_episode() {  # FILE -> each episode's lines in their order, episodes sorted
  python3 -c '
import json, sys
by = {}
for line in open(sys.argv[1]):
    by.setdefault(json.loads(line)["episodeId"], []).append(line)
for k in sorted(by):
    sys.stdout.write("".join(by[k]))
' "$1"
}
run 1
n1=$(wc -l <"$work/p1.out")
(( n1 > 5000 )) || { echo "FAIL: only $n1 notifications from one partition" >&2; exit 1; }
grep -q '"code":"malformed"' "$work/p1.err" || { echo "FAIL: the feed's bad lines were not reported" >&2; exit 1; }
for p in 2 3; do
  if ((p == 3)); then run 3 --memtable-mib 3 --no-wal; else run "$p"; fi
  [[ $(cat "$work/p$p.rc") == $(cat "$work/p1.rc") ]] ||
    { echo "FAIL: exit $(cat "$work/p$p.rc") with $p partitions, $(cat "$work/p1.rc") with one" >&2; exit 1; }
  if ! diff -q <(per_episode "$work/p1.out") <(per_episode "$work/p$p.out") >/dev/null; then
    diff <(per_episode "$work/p1.out") <(per_episode "$work/p$p.out") | head -20
    echo "FAIL: $p partitions: notifications differ from one partition's" >&2
    exit 1
  fi
  cmp <(grep -v '^lines=' "$work/p1.err") <(grep -v '^lines=' "$work/p$p.err") ||
    { echo "FAIL: $p partitions: rejections differ" >&2; exit 1; }
  cmp "$work/p1.episodes" "$work/p$p.episodes" || { echo "FAIL: $p partitions: episode views differ" >&2; exit 1; }
  [[ $(cat "$work/state$p/PARTITIONS") == "$p" && -d $work/state$p/partition-$((p - 1)) ]] ||
    { echo "FAIL: $p partitions: state dir layout" >&2; exit 1; }
done
spills() { grep -o 'spills=[0-9]*' "$work/p$1.err" | cut -d= -f2; }
(($(spills 3) >= 6 && $(spills 1) == 0)) ||
  { echo "FAIL: write-behind spills: $(spills 3) with --no-wal and 256 episodes held, $(spills 1) with the log" >&2; exit 1; }
flushes() { find "$work/state$1" -name 'LOG*' -exec cat {} + | grep -c '"event": "flush_finished"' || true; }
(($(flushes 3) >= 3 && $(flushes 1) == 0)) ||
  { echo "FAIL: flushes: $(flushes 3) with 1 MiB memtables, $(flushes 1) with 1 GiB" >&2; exit 1; }
# The same state dir again with its own count reopens (every event is now a duplicate); another
# count is refused before anything is read.
"$bin" simulate --rules "$rules" --events "$work/feed.jsonl" --state-dir "$work/state2" --partitions 2 \
  --stats >/dev/null 2>"$work/again.err" || true
grep -q "applied=0 duplicates=" "$work/again.err" || { cat "$work/again.err" >&2; echo "FAIL: reopening with 2 partitions" >&2; exit 1; }
for bad in "state2 1" "state2 3" "state1 2"; do
  set -- $bad
  rc=0
  "$bin" simulate --rules "$rules" --events "$work/feed.jsonl" --state-dir "$work/$1" --partitions "$2" \
    >/dev/null 2>"$work/bad.err" || rc=$?
  [[ $rc == 2 ]] && grep -q "was written with" "$work/bad.err" ||
    { cat "$work/bad.err" >&2; echo "FAIL: $1 with --partitions $2: exit $rc, not 2" >&2; exit 1; }
done
rc=0
"$bin" simulate --rules "$rules" --events "$work/feed.jsonl" --memtable-mib 0 >/dev/null 2>"$work/bad.err" || rc=$?
[[ $rc == 2 ]] && grep -q -- "--memtable-mib" "$work/bad.err" ||
  { cat "$work/bad.err" >&2; echo "FAIL: --memtable-mib 0: exit $rc, not 2" >&2; exit 1; }
# A full disk under the output ends the run with exit 3 and the reason, as with one partition
# (the partitions' threads are stopped before the input they read goes away).
if [[ -w /dev/full ]]; then
  rc=0
  "$bin" simulate --rules "$rules" --events "$work/feed.jsonl" --partitions 2 >/dev/full 2>"$work/full.err" || rc=$?
  [[ $rc == 3 ]] && grep -q "cannot write the notifications" "$work/full.err" ||
    { tail -3 "$work/full.err" >&2; echo "FAIL: --partitions 2 into /dev/full: exit $rc, not 3" >&2; exit 1; }
fi
echo "partitions 2 and 3 == 1: $n1 notifications, $lines lines, rejections and views identical"
