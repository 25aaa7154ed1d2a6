#!/usr/bin/env bash
# One episode told in HL7 v2 (episode/*.hl7, written by hand: an A01 with the test person
# 191212121212, a ZSM^Z01 needs assessment, an A03) through `samordna hl7 parse`, then the events
# through `samordna simulate`: every message is accepted, and the engine takes every event (exit 0;
# a rejected event would exit 1) and issues the admission notices and the discharge's settlement.
# Then the same with a reserve number and an A13 (below).
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

# The same episode with the patient known by HL7 Sweden's example national reserve number
# 98240301AA06 (OID 1.2.752.129.2.1.3.2) and its discharge cancelled by an A13 (written here by
# hand): the engine takes all five events, the notices carry personalIdKind RESERVE_NUMBER, and the
# payment liability issued at the discharge is withdrawn (DISCHARGE_CANCELLED).
mkdir "$work/reserve"
sed 's/191212121212^^^&1.2.752.129.2.1.3.1&ISO^NNSWE/98240301AA06^^^\&1.2.752.129.2.1.3.2\&ISO^NNSWE/' \
  "$src/tests/unit/hl7/episode/1_a01.hl7" >"$work/reserve/1_a01.hl7"
cp "$src/tests/unit/hl7/episode/2_zsm_z01.hl7" "$src/tests/unit/hl7/episode/3_a03.hl7" "$work/reserve/"
printf 'MSH|^~\\&|PAS|SUS|SAMORDNA|SE|20250318113000||ADT^A13|M300|P|2.5\rEVN||20250318113000\rPID|1\rPV1|1|I|MED3||||||||||||||||V7001\r' \
  >"$work/reserve/4_a13.hl7"
for f in "$work"/reserve/*.hl7; do
  "$samordna" hl7 parse "$f" >>"$work/reserve.jsonl" 2>/dev/null
done
[[ $(wc -l <"$work/reserve.jsonl") -eq 5 ]] || { echo "expected 5 events"; cat "$work/reserve.jsonl"; exit 1; }
grep -q '"dischargeCancelled":{}' "$work/reserve.jsonl" || { echo "no dischargeCancelled"; exit 1; }
"$samordna" simulate --rules "$src/rules/sets" --events "$work/reserve.jsonl" \
  --until 2025-03-30T00:00:00Z >"$work/reserve_out.jsonl"
grep -q '"admissionNotice".*RESERVE_NUMBER' "$work/reserve_out.jsonl" || { echo "no RESERVE_NUMBER notice"; exit 1; }
grep -q '"paymentLiabilityWithdrawn".*DISCHARGE_CANCELLED' "$work/reserve_out.jsonl" || { echo "liability not withdrawn"; exit 1; }
echo "reserve number and A13: 5 events accepted, $(wc -l <"$work/reserve_out.jsonl") notifications"
