#!/usr/bin/env bash
# eos.clock: the event-time clock survives a kill -9 and moves to a new machine (issue 7, item 2).
# A late-recorded feed where the clock matters: the episode's admission is recorded at 12:00, its
# later events carry earlier recordedAt (10:30–11:55, a source that sent them late). Each notice is
# issued at the engine's clock, 12:00, as `simulate` over the whole feed says. A service that forgot
# its clock at a restart would issue them at the events' own times (11:00, 11:55) and differ.
#   1. run consumes part A (the admission), then is killed with SIGKILL;
#   2. restarted on the same state dir, it consumes part B1 (needs: the admission notice);
#   3. stopped, and a new instance on an EMPTY state dir (a new machine: the clock comes from the
#      changelog's clock record) consumes part B2 (consent, discharge-ready: the notice).
# The committed output equals simulate's over A+B1+B2, byte for byte.
# usage: clock.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
eos_init clock "$@"

ep=clock-ep-1
patient='"patient":{"personalId":"195704289999","name":"Test Testsson","address":"Gatan 1, 753 14 Uppsala","homeMunicipality":"0380"}'
cat >"$EOS_WORK/a.jsonl" <<EOF
{"eventId":"c1","episodeId":"$ep","occurredAt":"2025-03-03T09:00:00Z","recordedAt":"2025-03-03T12:00:00Z","admitted":{$patient,"careUnit":"akademiska-avd-10A","region":"03","careType":"SOMATIC"}}
EOF
cat >"$EOS_WORK/b1.jsonl" <<EOF
{"eventId":"c2","episodeId":"$ep","occurredAt":"2025-03-03T10:30:00Z","recordedAt":"2025-03-03T11:00:00Z","needsAssessed":{"needs":["SOCIAL_SERVICES"],"estimatedDischargeAt":"2025-03-10T10:00:00Z"}}
EOF
cat >"$EOS_WORK/b2.jsonl" <<EOF
{"eventId":"c3","episodeId":"$ep","occurredAt":"2025-03-03T11:30:00Z","recordedAt":"2025-03-03T11:45:00Z","consentRecorded":{"scope":"INFORMATION_SHARING","granted":true}}
{"eventId":"c4","episodeId":"$ep","occurredAt":"2025-03-03T11:50:00Z","recordedAt":"2025-03-03T11:55:00Z","dischargeReady":{}}
EOF
cat "$EOS_WORK"/{a,b1,b2}.jsonl >"$EOS_WORK/feed.jsonl"
EOS_EVENTS=$(wc -l <"$EOS_WORK/feed.jsonl")
# No --until: in event time the clock only moves with the feed, and a partition's end must not
# move it (the service applies `until` at every end of a partition).
"$SAMORDNA" simulate --rules "$EOS_SOURCE/rules/sets" --events "$EOS_WORK/feed.jsonl" \
  >"$EOS_WORK/expected.jsonl" 2>"$EOS_WORK/simulate.err" || eos_fail "simulate failed"
EOS_EXPECTED=$(wc -l <"$EOS_WORK/expected.jsonl")
: >"$EOS_WORK/expected-deadletter.jsonl"
grep '"admissionNotice"' "$EOS_WORK/expected.jsonl" | grep -q '"issuedAt":"2025-03-03T12:00:00Z"' ||
  eos_fail "self-check: simulate did not issue the admission notice at the clock (12:00)"
grep '"dischargeReadyNotice"' "$EOS_WORK/expected.jsonl" | grep -q '"issuedAt":"2025-03-03T12:00:00Z"' ||
  eos_fail "self-check: simulate did not issue the discharge-ready notice at the clock (12:00)"

eos_config
sed -i '/^until:/d' "$EOS_CFG"
EOS_TOPICS_MADE=1
eos_topics create "$EOS_PREFIX.events" --if-not-exists --partitions 4 --replication-factor 1 \
  >"$EOS_WORK/topics.log" 2>&1 || eos_fail "cannot create $EOS_PREFIX.events"
produce() { "$SAMORDNA" produce --config "$EOS_CFG" --file "$1" 2>>"$EOS_WORK/produce.err" || eos_fail "produce $1 failed"; }
# Polls until N notifications are committed.
committed() {
  local want=$1 pid=$2 n=0 limit=$((SECONDS + 120))
  while ((SECONDS < limit)); do
    n=$(eos_consume "$EOS_PREFIX.notifications" /dev/stdout --timeout-ms 1500 2>/dev/null | wc -l) || n=0
    ((n >= want)) && return 0
    eos_alive "$pid" || eos_fail "the service exited with $n of $want notifications committed"
    sleep 0.5
  done
  eos_fail "only $n of $want notifications committed after 120 s"
}

produce "$EOS_WORK/a.jsonl"
eos_start first "$EOS_WORK/state" "$EOS_PREFIX-a"
pid=$EOS_PID
eos_wait_log "$EOS_WORK/first.log" 'assigned partition' 4 90 "$pid"
# The admission alone notifies nothing: its committed transaction shows in the changelog (read as
# raw records).
for ((i = 0; i < 300; i++)); do
  n=$(eos_consume "$EOS_PREFIX.changelog" /dev/stdout --type deadletter --timeout-ms 1000 2>/dev/null | wc -l) || n=0
  ((n >= 1)) && break
  sleep 0.2
done
((n >= 1)) || eos_fail "the first transaction never reached the changelog"
eos_kill "$pid"
eos_log "killed the first instance (SIGKILL) after part A"

produce "$EOS_WORK/b1.jsonl"
eos_start second "$EOS_WORK/state" "$EOS_PREFIX-a"
pid=$EOS_PID
committed 1 "$pid"
eos_stop "$pid"

produce "$EOS_WORK/b2.jsonl"
eos_start third "$EOS_WORK/state-new-machine" "$EOS_PREFIX-b"
pid=$EOS_PID
committed "$EOS_EXPECTED" "$pid"
sleep 1
eos_stop "$pid"
grep -q 'restored partition' "$EOS_WORK/third.log" || eos_fail "the new machine restored nothing"
eos_check
EOS_OK=1
