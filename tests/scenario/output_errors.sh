#!/usr/bin/env bash
# simulate never ends "ok" with its output lost (issue 9, item 6): with stdout on a full device
# (/dev/full), and with stdout a pipe whose reader went away, it exits 3 and says why on stderr;
# with a working stdout the same run exits 0. Usage: output_errors.sh SAMORDNA RULES_DIR CASES_DIR
set -uo pipefail
bin=$1 rules=$2 cases=$3
events=$cases/sip_in_time/events.jsonl
fails=0
check() {  # description, got rc, want rc
  if [[ $2 == "$3" ]]; then echo "ok:   $1 (exit $2)"; else echo "FAIL: $1: exit $2, expected $3"; fails=$((fails + 1)); fi
}
err=$(mktemp)
trap 'rm -f "$err"' EXIT
"$bin" simulate --rules "$rules" --events "$events" >/dev/null 2>"$err"
check "a working stdout" $? 0
"$bin" simulate --rules "$rules" --events "$events" >/dev/full 2>"$err"
check "stdout on /dev/full" $? 3
grep -q "cannot write the notifications" "$err" || { echo "FAIL: no message naming the failed write: $(cat "$err")"; fails=$((fails + 1)); }
# A reader that is gone before the first write: the writer gets EPIPE (SIGPIPE ignored, as a
# service would; the sleep lets `true` exit first).
(trap '' PIPE; sleep 0.5; "$bin" simulate --rules "$rules" --events "$events" 2>"$err"; echo $? >"$err.rc") | true
check "stdout a closed pipe" "$(cat "$err.rc")" 3
rm -f "$err.rc"
((fails == 0))
