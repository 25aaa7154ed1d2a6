#!/usr/bin/env bash
# `samordna demo` (the Kafka service on the embedded mock cluster) gives exactly what
# `samordna simulate` gives over the same feed: every scenario case's events concatenated into one
# feed of distinct episodes, compared as sorted JSON lines.
#   demo_matches_simulate.sh SAMORDNA_BINARY RULES_DIR CASES_DIR
set -euo pipefail
bin=$1 rules=$2 cases=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The cases as one feed in processing-time order: the simulator's clock is global, the service's
# per partition, and they agree on ordered input.
"$(dirname "$0")/cases_feed.sh" "$cases" >"$work/feed.jsonl"
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
