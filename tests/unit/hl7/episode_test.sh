#!/usr/bin/env bash
# One episode told in HL7 v2 (episode/*.hl7, written by hand: an A01 with the test person
# 191212121212, a ZSM^Z01 needs assessment, an A03) through `samordna hl7 parse`, then the events
# through `samordna simulate`: every message is accepted, and the engine takes every event (exit 0;
# a rejected event would exit 1) and issues the admission notices and the discharge's settlement.
#   episode_test.sh SAMORDNA SOURCE_DIR
set -euo pipefail
samordna="$1"
src="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for f in "$src"/tests/unit/hl7/episode/*.hl7; do
  "$samordna" hl7 parse "$f" >>"$work/events.jsonl" 2>/dev/null
done
[[ $(wc -l <"$work/events.jsonl") -eq 4 ]] || { echo "expected 4 events"; cat "$work/events.jsonl"; exit 1; }
"$samordna" simulate --rules "$src/rules/sets" --events "$work/events.jsonl" \
  --until 2025-03-20T00:00:00Z >"$work/out.jsonl"
grep -q '"admissionNotice"' "$work/out.jsonl" || { echo "no admission notice"; exit 1; }
grep -q '"paymentLiability' "$work/out.jsonl" || { echo "no settlement at discharge"; exit 1; }
echo "4 events accepted by the engine, $(wc -l <"$work/out.jsonl") notifications"
