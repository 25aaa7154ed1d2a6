#!/usr/bin/env bash
# samordna hl7 parse over every file in shared/data/hl7v2 (nHapi's crash inputs included): each run
# ends within 10 s with status 0 (accept) or 1 (AE/AR), prints an ACK that starts with MSH and holds
# an MSA, and its summary line gives a reason whenever it does not accept.
#   parse_cli_test.sh SAMORDNA SHARED_DIR
set -uo pipefail
samordna="$1"
dir="$2/data/hl7v2"
[[ -d $dir ]] || { echo "skipped: no $dir"; exit 77; }
failures=0 count=0
while IFS= read -r -d '' f; do
  count=$((count + 1))
  ack="$(timeout 10 "$samordna" hl7 parse --ack "$f" 2>/tmp/hl7_parse_cli.$$)"
  rc=$?
  summary="$(cat /tmp/hl7_parse_cli.$$)"
  if [[ $rc -ne 0 && $rc -ne 1 ]]; then echo "FAIL $f: exit $rc"; failures=$((failures + 1)); continue; fi
  if [[ ${ack:0:4} != "MSH|" || $ack != *$'\n'MSA\|* ]]; then echo "FAIL $f: no ACK"; failures=$((failures + 1)); fi
  if [[ $rc -eq 1 && $summary != *": "* ]]; then echo "FAIL $f: no reason"; failures=$((failures + 1)); fi
done < <(find "$dir" -type f ! -name '*.md' -print0)
rm -f /tmp/hl7_parse_cli.$$
echo "$count files, $failures failure(s)"
((failures == 0))
