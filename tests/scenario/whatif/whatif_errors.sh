#!/usr/bin/env bash
# `samordna whatif` refuses bad arguments and files with exit 2 and a message naming the problem
# (and, for rule files, file:line: reason), before any replay starts.
#   whatif_errors.sh SAMORDNA_BINARY SOURCE_DIR
set -uo pipefail
bin=$1 src=$2
cd "$src"
events=tests/scenario/whatif/statutory_vs_vgr/events.jsonl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
# expect STATUS TEXT -- ARGS...: the exit status is STATUS and stderr holds TEXT.
expect() {
  local want=$1 text=$2
  shift 3
  local rc=0
  "$bin" whatif --progress-seconds 0 "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [[ $rc != "$want" ]] || ! grep -qF -- "$text" "$tmp/err"; then
    echo "FAIL: whatif $* -> exit $rc (want $want), stderr:" >&2
    cat "$tmp/err" >&2
    echo "  (wanted: $text)" >&2
    fail=1
  fi
}
expect 2 "give --rules twice (got 1)" -- --events "$events" --rules rules/sets
expect 2 "give --rules twice (got 3)" -- --events "$events" --rules rules/sets --rules rules/sets --rules rules/sets
expect 2 "give a file, not '-'" -- --events - --rules rules/sets --rules rules/sets
expect 2 "does not exist" -- --events "$tmp/none.jsonl" --rules rules/sets --rules rules/sets
expect 2 "is not a regular file" -- --events tests --rules rules/sets --rules rules/sets
expect 2 "models.yaml:9: unknown liability model 'average'" -- --events "$events" \
  --rules rules/sets --rules tests/unit/rules/testdata/liability_model
expect 2 "error(s) in rules directory $tmp/no-rules" -- --events "$events" --rules rules/sets \
  --rules "$tmp/no-rules"
expect 2 "--until must be later than --from" -- --events "$events" --rules rules/sets \
  --rules rules/sets --from 2019-04-01T00:00:00Z --until 2019-03-01T00:00:00Z
expect 2 "expects an RFC 3339 time" -- --events "$events" --rules rules/sets --rules rules/sets \
  --from yesterday
expect 2 "cannot write the CSV file $tmp/no/such/dir/out.csv" -- --events "$events" \
  --rules rules/sets --rules rules/sets --csv "$tmp/no/such/dir/out.csv"
# A rejected line is reported and gives exit 1, as simulate does; the report is still written.
printf '{"not json\n' >"$tmp/bad.jsonl"
cat "$events" >>"$tmp/bad.jsonl"
expect 1 "1 lines rejected" -- --events "$tmp/bad.jsonl" --rules rules/sets --rules rules/sets \
  --csv "$tmp/ok.csv"
if [[ ! -s $tmp/ok.csv ]]; then
  echo "FAIL: no CSV written when a line was rejected" >&2
  fail=1
fi
exit $fail
