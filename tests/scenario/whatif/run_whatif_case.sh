#!/usr/bin/env bash
# Runs one whatif case: `samordna whatif` over the case's events.jsonl with the two rules
# directories its `rules` file names (paths relative to the source root, one a line), plus the
# case's `args`; compares the CSV with expected.csv (worked out by hand in the case's NOTE), the
# table on stdout with expected-table.txt and the JSON with expected.json (when present), and
# checks the exit status is 0 and the JSON parses.
#   run_whatif_case.sh SAMORDNA_BINARY SOURCE_DIR CASE_DIR
set -euo pipefail
bin=$1 src=$2 case_dir=$3
mapfile -t dirs <"$case_dir/rules"
args=()
[[ -f $case_dir/args ]] && read -r -a args <"$case_dir/args"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
(cd "$src" && "$bin" whatif --events "$case_dir/events.jsonl" --rules "${dirs[0]}" \
  --rules "${dirs[1]}" --csv "$tmp/out.csv" --json "$tmp/out.json" --progress-seconds 0 \
  "${args[@]}" >"$tmp/table.txt" 2>"$tmp/err.txt") || rc=$?
fail=0
if [[ $rc != 0 ]]; then
  echo "FAIL: exit status $rc, expected 0" >&2
  cat "$tmp/err.txt" >&2
  fail=1
fi
if ! diff -u "$case_dir/expected.csv" "$tmp/out.csv"; then
  echo "FAIL: CSV differs from $case_dir/expected.csv" >&2
  fail=1
fi
if [[ -f $case_dir/expected-table.txt ]] && ! diff -u "$case_dir/expected-table.txt" "$tmp/table.txt"; then
  echo "FAIL: table differs from $case_dir/expected-table.txt" >&2
  fail=1
fi
if [[ -f $case_dir/expected.json ]] && ! diff -u "$case_dir/expected.json" "$tmp/out.json"; then
  echo "FAIL: JSON differs from $case_dir/expected.json" >&2
  fail=1
fi
if ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out.json"; then
  echo "FAIL: the JSON does not parse" >&2
  fail=1
fi
exit $fail
