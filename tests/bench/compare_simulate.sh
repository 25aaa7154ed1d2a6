#!/usr/bin/env bash
# Two builds of samordna side by side on one generated feed: the same notifications (byte for byte,
# or else the JSON lines compared after deleting fields the newer build may add, by default
# `addressees`), the same rejections, and the CPU time each spent per event, measured in one run on
# one machine.
#
#   tests/bench/compare_simulate.sh OLD_SAMORDNA NEW_SAMORDNA [EPISODES] [ROUNDS]
#
# Environment: SAMORDNA_GEN (default build/tests/bench/generator/samordna_gen), SEED (7),
# ADDED_FIELDS (jq paths deleted before comparing, default ".addressees"), WORK (a temp dir).
# Exit 0 when the outputs agree, 1 when they differ (the diff is left in WORK).
set -euo pipefail
old=$1 new=$2 episodes=${3:-20000} rounds=${4:-3}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
gen=${SAMORDNA_GEN:-$here/build/tests/bench/generator/samordna_gen}
added=${ADDED_FIELDS:-.addressees}
work=${WORK:-$(mktemp -d /tmp/samordna-compare.XXXX)}
mkdir -p "$work"
feed=$work/feed.jsonl
"$gen" --episodes "$episodes" --seed "${SEED:-7}" --emit-invalid 0.01 --quiet --out "$feed"
events=$(wc -l <"$feed")
until=2027-01-01T00:00:00Z

cpu() {  # BIN OUT ERR: prints user+sys CPU seconds of one simulate
  /usr/bin/time -o "$3.time" -f '%U %S' "$1" simulate --rules "$here/rules/sets" \
    --events "$feed" --until "$until" --state-dir "$work/state-$RANDOM" >"$2" 2>"$3" || true
  # -o also records "Command exited with non-zero status 1" (rejected lines): the last line counts.
  tail -n 1 "$3.time" | awk '{ print $1 + $2 }'
}

declare -a t_old t_new
for ((r = 1; r <= rounds; r++)); do  # alternate, so both see the same machine
  t_old+=("$(cpu "$old" "$work/old.jsonl" "$work/old.err")")
  t_new+=("$(cpu "$new" "$work/new.jsonl" "$work/new.err")")
  rm -rf "$work"/state-*
done
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
mo=$(median "${t_old[@]}") mn=$(median "${t_new[@]}")

rc=0
same=identical  # byte for byte; only when not, the fields the newer build may add are deleted
if ! cmp -s "$work/old.jsonl" "$work/new.jsonl"; then
  same="less $added"
  jq -c "del($added)" "$work/new.jsonl" >"$work/new.stripped.jsonl"
fi
if [[ $same != identical ]] && ! cmp -s "$work/old.jsonl" "$work/new.stripped.jsonl"; then
  diff "$work/old.jsonl" "$work/new.stripped.jsonl" >"$work/notifications.diff" || true
  echo "DIFFERENT notifications: $(grep -c '^[<>]' "$work/notifications.diff") lines, $work/notifications.diff"
  rc=1
fi
if ! cmp -s "$work/old.err" "$work/new.err"; then
  diff "$work/old.err" "$work/new.err" >"$work/rejections.diff" || true
  echo "DIFFERENT rejections: $work/rejections.diff"
  rc=1
fi
awk -v e="$events" -v n="$(wc -l <"$work/old.jsonl")" -v mo="$mo" -v mn="$mn" -v r="$rounds" 'BEGIN {
  printf "feed: %d events, %d notifications; CPU (user+sys, median of %d): old %.2f s = %.1f us/event, new %.2f s = %.1f us/event, new/old %.2f\n",
    e, n, r, mo, mo * 1e6 / e, mn, mn * 1e6 / e, mn / mo }'
((rc == 0)) && echo "same notifications ($same) and the same rejections, line for line"
exit $rc
