#!/usr/bin/env bash
# `samordna demo` (the Kafka service on the embedded mock cluster) gives exactly what
# `samordna simulate` gives over the same feed: every scenario case's events concatenated into one
# feed of distinct episodes, compared as sorted JSON lines.
#   demo_matches_simulate.sh SAMORDNA_BINARY RULES_DIR CASES_DIR
set -euo pipefail
bin=$1 rules=$2 cases=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Cases reuse episode ids: prefix each with its case name so the feeds do not collide. Then order
# the whole feed by processing time (recordedAt, else occurredAt; stable), as a hospital's feed is:
# the simulator's clock is global, the service's per partition, and they agree on ordered input.
for c in "$cases"/*/; do
  name=$(basename "$c")
  sed "s/\"episodeId\":\"/\"episodeId\":\"$name:/" "$c/events.jsonl"
done | awk '{
  key = "0000"
  if (match($0, /"recordedAt":"[^"]*"/)) key = substr($0, RSTART + 14, RLENGTH - 15)
  else if (match($0, /"occurredAt":"[^"]*"/)) key = substr($0, RSTART + 14, RLENGTH - 15)
  print key "\t" $0
}' | sort -s -t $'\t' -k1,1 | cut -f2- >"$work/feed.jsonl"
"$bin" simulate --rules "$rules" --events "$work/feed.jsonl" --until 2100-01-01T00:00:00Z 2>/dev/null |
  sort >"$work/expected" || true
"$bin" demo --rules "$rules" --events "$work/feed.jsonl" --until 2100-01-01T00:00:00Z 2>"$work/demo.err" |
  sort >"$work/got"
if ! diff -u "$work/expected" "$work/got" >"$work/diff"; then
  head -40 "$work/diff"
  tail -5 "$work/demo.err"
  echo "FAIL: demo and simulate differ ($(grep -c '^[-+]{' "$work/diff") lines)" >&2
  exit 1
fi
echo "demo == simulate: $(wc -l <"$work/got") notifications"
