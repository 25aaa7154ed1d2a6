#!/usr/bin/env bash
# serve.end_to_end: `samordna serve` against the real broker (README.md in this folder).
#   1. a generated feed -> `samordna run` (replay) -> serve's read model -> the API answers what the
#      topics hold: a municipality's inbox is exactly the notifications addressed to it, its
#      episode is there with the patient, another municipality gets the 404 of an absent one;
#   2. POST .../ack publishes noticeAcknowledged; `samordna run` applies it and the notice shows
#      acknowledged in the API;
#   3. audit completeness: every request to a personal-data route has its record in samordna.audit,
#      read back through GET /api/v1/audit;
#   4. serve SIGKILLed mid-consumption and restarted: every row equals a fresh replica's;
#   5. a deleted data dir is rebuilt to the same rows;
#   6. partitions added to the notifications topic under a running serve are read with no restart:
#      new episodes' notifications in them reach the inbox;
#   7. the audit topic deleted under a running serve: personal-data requests answer 503.
# Usage: serve.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR. SERVE_EPISODES (default 400).
set -euo pipefail
# shellcheck source=../eos/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../eos/lib.sh"
eos_init serve "$@"

command -v curl >/dev/null || eos_fail "curl is needed (deploy/install-deps.sh)"
command -v openssl >/dev/null || eos_fail "openssl is needed (deploy/install-deps.sh)"

eos_feed "${SERVE_EPISODES:-400}" 1111
# retentionDays 0: every episode stays, so the read model has them all at the end of the replay.
eos_config "retentionDays: 0"
eos_load
AUDIT_TOPIC=$EOS_PREFIX.audit

# The feed, replayed to its end; --exit-at-end stops it.
EOS_RUN_ARGS=(--exit-at-end)
eos_start run "$EOS_WORK/state" "$EOS_PREFIX-a"
wait "$EOS_PID" || eos_fail "samordna run --exit-at-end failed"
"$SAMORDNA" consume --config "$EOS_CFG" --from-beginning --timeout-ms 4000 \
  >"$EOS_WORK/notifications.jsonl" 2>"$EOS_WORK/consume.err"
eos_log "run: $(wc -l <"$EOS_WORK/notifications.jsonl") notifications committed"

openssl ecparam -name prime256v1 -genkey -noout -out "$EOS_WORK/key.pem" 2>/dev/null
openssl ec -in "$EOS_WORK/key.pem" -pubout -out "$EOS_WORK/key.pub.pem" 2>/dev/null
token() { "$SAMORDNA" token --signing-key "$EOS_WORK/key.pem" --org "$1" --role "$2" --ttl 3600; }

# serve_start NAME DATA_DIR -> SERVE_PID, SERVE_URL
serve_start() {
  local name=$1 dir=$2
  "$SAMORDNA" serve ${SERVE_ARGS[@]+"${SERVE_ARGS[@]}"} --config "$EOS_CFG" --data-dir "$dir" --http-port 0 \
    --auth-public-key "$EOS_WORK/key.pub.pem" --audit-topic "$AUDIT_TOPIC" \
    --delivery-status-topic "$EOS_PREFIX.delivery-status" -v \
    >"$EOS_WORK/$name.log" 2>&1 </dev/null &
  SERVE_PID=$!
  echo "$SERVE_PID" >>"$EOS_WORK/pids"
  eos_wait_log "$EOS_WORK/$name.log" 'listening on' 1 60 "$SERVE_PID"
  SERVE_URL="http://$(sed -nE 's/.*listening on ([0-9.:]+) .*/\1/p' "$EOS_WORK/$name.log" | tail -1)"
}
serve_wait_ready() {  # PID URL
  local until=$((SECONDS + 180))
  until [[ $(curl -s -o /dev/null -w '%{http_code}' "$2/readyz") == 200 ]]; do
    eos_alive "$1" || eos_fail "serve (pid $1) exited before it was ready"
    ((SECONDS < until)) || eos_fail "serve not ready after 180 s"
    sleep 0.2
  done
}
# Requests to personal-data routes, counted in a file: api() also runs in $(...) subshells.
: >"$EOS_WORK/audited"
audited() { wc -l <"$EOS_WORK/audited"; }
api() {  # METHOD PATH TOKEN [BODY] -> body on stdout, status in $EOS_WORK/status
  local out=$EOS_WORK/response args=(-s -o "$EOS_WORK/response" -w '%{http_code}' -X "$1"
    -H "Authorization: Bearer $3")
  [[ -n ${4:-} ]] && args+=(-H 'Content-Type: application/json' --data "$4")
  curl "${args[@]}" "$SERVE_URL$2" >"$EOS_WORK/status"
  case $2 in /api/v1/notifications* | /api/v1/episodes* | /api/v1/deadlines*) echo >>"$EOS_WORK/audited" ;; esac
  cat "$out"
}
status() { cat "$EOS_WORK/status"; }

serve_start serve-a "$EOS_WORK/data-a"
A_PID=$SERVE_PID
serve_wait_ready "$A_PID" "$SERVE_URL"
A_URL=$SERVE_URL
eos_log "serve a ready at $A_URL"

# --- 1. the API answers what the topics hold ---
read -r MUN OTHER_MUN EPISODE < <(python3 - "$EOS_WORK/notifications.jsonl" <<'PY'
import json, sys
muns, episode = {}, None
for line in open(sys.argv[1]):
    n = json.loads(line)
    for a in n.get("addressees", []):
        if a["kind"] == "MUNICIPALITY":
            muns[a["id"]] = muns.get(a["id"], 0) + 1
            if episode is None and "admissionNotice" in n:
                episode = (a["id"], n["episodeId"])
top = sorted(muns, key=lambda m: -muns[m])
other = next(m for m in top if m != episode[0])
print(episode[0], other, episode[1])
PY
)
TOK=$(token "MUNICIPALITY:$MUN" caseworker)
OTHER_TOK=$(token "MUNICIPALITY:$OTHER_MUN" caseworker)
api GET "/api/v1/notifications?limit=500" "$TOK" >"$EOS_WORK/inbox.json"
[[ $(status) == 200 ]] || eos_fail "inbox: HTTP $(status)"
python3 "$(dirname "${BASH_SOURCE[0]}")/inbox_matches.py" "$EOS_WORK/notifications.jsonl" \
  "$EOS_WORK/inbox.json" "$MUN" || eos_fail "the inbox is not the notifications addressed to the municipality"
api GET "/api/v1/episodes/$EPISODE" "$TOK" >"$EOS_WORK/episode.json"
[[ $(status) == 200 ]] || eos_fail "own episode: HTTP $(status)"
grep -q '"personalId"' "$EOS_WORK/episode.json" || eos_fail "the home municipality sees no patient"
grep -q '"explanation"' "$EOS_WORK/episode.json" || eos_fail "deadlines without explanation"
foreign=$(api GET "/api/v1/episodes/$EPISODE" "$OTHER_TOK"); foreign_status=$(status)
absent=$(api GET "/api/v1/episodes/no-such-episode" "$OTHER_TOK")
[[ $foreign_status == 404 && $(status) == 404 && $foreign == "$absent" ]] ||
  eos_fail "another municipality's episode must look absent ($foreign_status: $foreign)"
api GET "/api/v1/statistics/payment-liability?format=csv" "$(token "MUNICIPALITY:$MUN" coordinator)" \
  >"$EOS_WORK/liability.csv"
[[ $(status) == 200 ]] || eos_fail "statistics: HTTP $(status)"
head -1 "$EOS_WORK/liability.csv" | grep -q '^municipality,month,liableStays' || eos_fail "statistics CSV header"
eos_log "API: inbox, episode, 404 for another's, statistics: ok"

# --- 2. the acknowledgement goes through the engine and comes back ---
REF=$(python3 -c '
import json, sys, base64
for i in json.load(open(sys.argv[1]))["items"]:
    n = i["notification"]
    if not i["acknowledged"] and "admissionNotice" in n:
        print(base64.urlsafe_b64encode(n["notificationId"].encode()).decode().rstrip("=")); break
' "$EOS_WORK/inbox.json")
[[ -n $REF ]] || eos_fail "no unacknowledged admission notice to acknowledge"
api POST "/api/v1/notifications/$REF/ack" "$TOK" >/dev/null
[[ $(status) == 202 ]] || eos_fail "ack: HTTP $(status)"
api POST "/api/v1/notifications/$REF/ack" "$TOK" >/dev/null   # a retry is the same event
[[ $(status) == 202 ]] || eos_fail "ack again: HTTP $(status)"
EOS_RUN_ARGS=()
eos_start run-ack "$EOS_WORK/state" "$EOS_PREFIX-a"
RUN_PID=$EOS_PID
until=$((SECONDS + 120))
until [[ $(api GET "/api/v1/notifications/$REF" "$TOK") == *'"acknowledged":true'* ]]; do
  ((SECONDS < until)) || eos_fail "the acknowledgement never showed in the read model"
  sleep 0.5
done
eos_stop "$RUN_PID"
eos_log "ack: published once durable, applied by run, shown as acknowledged"

# --- 3. audit completeness ---
# Every caller here is one of two municipalities: their auditors see their own callers' records,
# and together every record. The episode's region's auditor sees the access to it too (the region
# answers for its care); another region's sees nothing of it.
audit_of() {  # ORG -> the audit records its auditor sees
  curl -s -H "Authorization: Bearer $(token "$1" auditor)" "$A_URL/api/v1/audit?limit=500"
}
count_items() { python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))'; }
# A read of the audit log is audited itself, as a record of the auditor's organisation, which that
# auditor's next read sees (never its own: a read answers before its record is written). So the
# records expected are the audited requests plus the audit reads made before this round of them.
audit_reads=0
until=$((SECONDS + 60))
while :; do
  expected=$(($(audited) + audit_reads))
  n=$(($(audit_of "MUNICIPALITY:$MUN" | count_items) + $(audit_of "MUNICIPALITY:$OTHER_MUN" | count_items)))
  audit_reads=$((audit_reads + 2))
  [[ $n == "$expected" ]] && break
  ((SECONDS < until)) || eos_fail "audit records: $n, audited requests and audit reads: $expected"
  sleep 0.5
done
audit_of "MUNICIPALITY:$MUN" >"$EOS_WORK/audit.json"
grep -q "$EPISODE" "$EOS_WORK/audit.json" || eos_fail "the episode read is not in the audit log"
REGION=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["region"])' "$EOS_WORK/episode.json")
[[ -n $REGION ]] || eos_fail "the episode names no region"
audit_of "REGION:$REGION" | grep -q "$EPISODE" || eos_fail "region $REGION's auditor does not see the read of its episode"
audit_of "REGION:00" | grep -q "$EPISODE" && eos_fail "another region's auditor sees the read of region $REGION's episode"
eos_log "audit: $(audited) requests to personal-data routes and $audit_reads reads of the audit log, as many records; region $REGION sees the read of its episode, region 00 does not"

# --- 4. SIGKILL mid-consumption, restart, compare with the replica that never died ---
# Small transactions (20 records) so that the kill lands between two of them: it is sent as soon
# as the first rows are committed; tried again (on a new data dir) if the replica was complete.
final_rows=$("$SAMORDNA" serve --data-dir "$EOS_WORK/data-a" --dump | wc -l)
SERVE_ARGS=(--read-batch 20)
for attempt in 1 2 3 4 5; do
  rm -rf "$EOS_WORK/data-b"
  serve_start serve-b "$EOS_WORK/data-b"
  rows=0
  until ((rows > 0)); do
    rows=$("$SAMORDNA" serve --data-dir "$EOS_WORK/data-b" --dump 2>/dev/null | wc -l)
  done
  eos_kill "$SERVE_PID"
  rows=$("$SAMORDNA" serve --data-dir "$EOS_WORK/data-b" --dump | wc -l)
  eos_log "serve b killed with $rows of about $final_rows rows (attempt $attempt)"
  ((rows < final_rows)) && break
done
((rows < final_rows)) || eos_fail "never killed serve mid-consumption in 5 attempts"
SERVE_ARGS=()
serve_start serve-b2 "$EOS_WORK/data-b"
B_PID=$SERVE_PID
serve_wait_ready "$B_PID" "$SERVE_URL"
eos_stop "$B_PID"
eos_stop "$A_PID"
"$SAMORDNA" serve --data-dir "$EOS_WORK/data-a" --dump >"$EOS_WORK/dump-a.txt"
"$SAMORDNA" serve --data-dir "$EOS_WORK/data-b" --dump >"$EOS_WORK/dump-b.txt"
[[ -s $EOS_WORK/dump-a.txt ]] || eos_fail "empty read model"
cmp -s "$EOS_WORK/dump-a.txt" "$EOS_WORK/dump-b.txt" ||
  eos_fail "the killed-and-restarted replica differs (diff dump-a.txt dump-b.txt)"
eos_log "killed replica == fresh replica: $(wc -l <"$EOS_WORK/dump-a.txt") rows"

# --- 5. a lost data dir is rebuilt ---
rm -rf "$EOS_WORK/data-a"
SERVE_ARGS=(--partition-check-seconds 1)  # for step 6
serve_start serve-a2 "$EOS_WORK/data-a"
A_PID=$SERVE_PID
serve_wait_ready "$A_PID" "$SERVE_URL"
"$SAMORDNA" serve --data-dir "$EOS_WORK/data-a" --dump >"$EOS_WORK/dump-a2.txt"
cmp -s "$EOS_WORK/dump-a2.txt" "$EOS_WORK/dump-b.txt" || eos_fail "the rebuilt data dir differs"
eos_log "deleted data dir rebuilt: same rows"

# --- 6. partitions added under a running serve ---
# The notifications topic grows from 4 to 12 partitions; a second feed of new episodes (ids
# "gr-...") is replayed by a fresh run, whose producer spreads their notifications over all 12.
eos_topics alter "$EOS_PREFIX.notifications" --partitions 12 >"$EOS_WORK/alter.log" 2>&1 ||
  eos_fail "cannot add partitions to $EOS_PREFIX.notifications"
eos_wait_log "$EOS_WORK/serve-a2.log" "reading partition [0-9]+ of $EOS_PREFIX.notifications, new" 8 60 "$A_PID"
"$SAMORDNA_GEN" --episodes 60 --seed 2222 --quiet |
  sed -E 's/"(episodeId|eventId)":"ep-/"\1":"gr-/g' >"$EOS_WORK/grown.jsonl"
"$SAMORDNA" produce --config "$EOS_CFG" --file "$EOS_WORK/grown.jsonl" 2>"$EOS_WORK/grown-produce.err" ||
  eos_fail "produce of the second feed failed"
EOS_RUN_ARGS=(--exit-at-end)
eos_start run-grown "$EOS_WORK/state" "$EOS_PREFIX-a"
wait "$EOS_PID" || eos_fail "samordna run --exit-at-end over the second feed failed"
EOS_RUN_ARGS=()
"$SAMORDNA" consume --config "$EOS_CFG" --from-beginning --timeout-ms 4000 \
  >"$EOS_WORK/notifications2.jsonl" 2>"$EOS_WORK/consume2.err"
# The municipality the new episodes' notifications address most: its inbox must hold them all.
GROWN_MUN=$(python3 -c '
import json, sys, collections
c = collections.Counter()
for line in open(sys.argv[1]):
    n = json.loads(line)
    if n["episodeId"].startswith("gr-"):
        c.update(a["id"] for a in n.get("addressees", []) if a["kind"] == "MUNICIPALITY")
print(c.most_common(1)[0][0] if c else "")
' "$EOS_WORK/notifications2.jsonl")
[[ -n $GROWN_MUN ]] || eos_fail "the second feed gave no notification to a municipality"
GROWN_TOK=$(token "MUNICIPALITY:$GROWN_MUN" caseworker)
until=$((SECONDS + 60))
until api GET "/api/v1/notifications?limit=500" "$GROWN_TOK" >"$EOS_WORK/inbox2.json" &&
  python3 "$(dirname "${BASH_SOURCE[0]}")/inbox_matches.py" "$EOS_WORK/notifications2.jsonl" \
    "$EOS_WORK/inbox2.json" "$GROWN_MUN" >"$EOS_WORK/inbox2.check" 2>&1; do
  ((SECONDS < until)) || eos_fail "after the partitions were added: $(cat "$EOS_WORK/inbox2.check")"
  sleep 1
done
eos_log "12 partitions, 8 of them new, read with no restart: $(cat "$EOS_WORK/inbox2.check")"

# --- 7. the audit topic unavailable: no answer with personal data ---
eos_topics delete "$AUDIT_TOPIC" >"$EOS_WORK/delete.log" 2>&1 || eos_fail "cannot delete $AUDIT_TOPIC"
until=$((SECONDS + 60))
while :; do
  api GET "/api/v1/episodes/$EPISODE" "$TOK" >"$EOS_WORK/unaudited.json"
  [[ $(status) == 503 ]] && break
  [[ $(status) == 200 ]] || eos_fail "expected 503 or (before the deletion is seen) 200, got $(status)"
  ((SECONDS < until)) || eos_fail "still answering with the audit topic deleted"
  sleep 1
done
grep -q personalId "$EOS_WORK/unaudited.json" && eos_fail "a 503 carried personal data"
api GET "/api/v1/notifications" "$TOK" >/dev/null
[[ $(status) == 503 ]] || eos_fail "inbox without audit: HTTP $(status)"
curl -s -o /dev/null -w '%{http_code}' "$SERVE_URL/healthz" | grep -q 200 || eos_fail "healthz"
eos_log "audit topic deleted: personal-data routes answer 503"

# /metrics for the operator role: the HTTP requests counted by route template (never a raw path),
# the read model's lag, and promtool's lint clean.
curl -s -H "Authorization: Bearer $(token "REGION:00" operator)" "$SERVE_URL/metrics" \
  >"$EOS_WORK/metrics.txt"
grep -q '^samordna_http_requests_total{route="/api/v1/notifications"' \
  "$EOS_WORK/metrics.txt" || eos_fail "no inbox requests in /metrics"
grep -q '^samordna_read_model_lag_records ' "$EOS_WORK/metrics.txt" || eos_fail "no read model lag"
command -v promtool >/dev/null || eos_fail "promtool (Debian prometheus) missing: run deploy/install-deps.sh"
promtool check metrics <"$EOS_WORK/metrics.txt" || eos_fail "promtool check metrics"
[[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK" "$SERVE_URL/metrics") \
  == 403 ]] || eos_fail "a caseworker read /metrics"
eos_log "/metrics: requests by route, read model lag, promtool clean, caseworker refused"
eos_stop "$A_PID"

EOS_OK=1
