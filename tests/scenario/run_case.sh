#!/usr/bin/env bash
# Runs one scenario through the CLI: `samordna simulate` over the case's events.jsonl, and compares
# stdout with expected.jsonl and stderr with expected-rejections.jsonl (empty when absent), line by
# line, the exit status with exit-code (0 when absent), and the final EpisodeViews (`--episodes`)
# with expected-episodes.jsonl (when present; retention off, so every episode of the case is there). Extra arguments (e.g. --until) come from
# the case's `args` file.
#   run_case.sh SAMORDNA_BINARY RULES_DIR CASE_DIR
set -euo pipefail
bin=$1 rules=$2 case_dir=$3
args=()
[[ -f $case_dir/args ]] && read -r -a args <"$case_dir/args"
want_rc=0
[[ -f $case_dir/exit-code ]] && want_rc=$(<"$case_dir/exit-code")
out=$(mktemp) err=$(mktemp) views=$(mktemp)
trap 'rm -f "$out" "$err" "$views"' EXIT
rc=0
"$bin" simulate --rules "$rules" --events "$case_dir/events.jsonl" --episodes "$views" --retention-days 0 \
  "${args[@]}" >"$out" 2>"$err" || rc=$?
fail=0
if ! diff -u "$case_dir/expected.jsonl" "$out"; then
  echo "FAIL: notifications differ from $case_dir/expected.jsonl" >&2
  fail=1
fi
want_err=/dev/null
[[ -f $case_dir/expected-rejections.jsonl ]] && want_err=$case_dir/expected-rejections.jsonl
if ! diff -u "$want_err" "$err"; then
  echo "FAIL: stderr differs from $want_err" >&2
  fail=1
fi
if [[ -f $case_dir/expected-episodes.jsonl ]] && ! diff -u "$case_dir/expected-episodes.jsonl" "$views"; then
  echo "FAIL: episode views differ from $case_dir/expected-episodes.jsonl" >&2
  fail=1
fi
if [[ $rc != "$want_rc" ]]; then
  echo "FAIL: exit status $rc, expected $want_rc" >&2
  fail=1
fi
exit $fail
