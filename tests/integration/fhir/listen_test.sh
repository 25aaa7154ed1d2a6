#!/usr/bin/env bash
# samordna fhir listen against the real broker, with curl as the independent FHIR client:
#   1. GET /fhir/metadata; every file in shared/data/fhir through the listener (expected statuses
#      written by hand: the two ambulatory examples are taken with nothing to do, the inpatient
#      one lacks its Patient (422), the FHIR Shorthand files are not JSON (400));
#   2. the hand-written episode (tests/unit/fhir/episode): the admission Bundle, the same again
#      (nothing new), the steps, the finished stay; malformed requests; POST /events;
#   3. kill -9: the listener is killed and restarted; every resend is recognised (the memory is on
#      Kafka), then senders stream N encounters (admission + discharge) while the listener is
#      killed KILLS times, resending whatever was not answered 2xx. At the end every event is on
#      the events topic exactly once;
#   4. SIGTERM ends it with status 0.
# The first listener also serves --metrics-port: after step 2 its /metrics must count what the test
# sent (requests by route and status, intake latency per durable commit) and pass promtool.
#   listen_test.sh SAMORDNA SOURCE_DIR SHARED_DIR [N] [KILLS]
set -euo pipefail
samordna="$1"
src="$2"
shared="$3"
n="${4:-60}"
kills="${5:-2}"
bootstrap="${SAMORDNA_KAFKA_BOOTSTRAP:-}"
if [[ -z $bootstrap ]]; then
  echo "SKIP: SAMORDNA_KAFKA_BOOTSTRAP is not set"
  exit 77
fi
work="$(mktemp -d)"
failures=0
id="fhirtest$$x$RANDOM"
pid=""
cleanup() {
  local rc=$?
  [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
  [[ -s $work/pid ]] && kill -9 "$(cat "$work/pid")" 2>/dev/null || true
  if ((failures)) && [[ -s $work/listen.err ]]; then
    echo "the listener's stderr ends:"
    tail -30 "$work/listen.err"
  fi
  # Passed: its topics go (kept on a failure, to be read).
  if ((rc == 0)); then
    for t in "$id.events" "$id.memory"; do
      bash "$src/deploy/kafka/kafka.sh" tool org.apache.kafka.tools.TopicCommand --bootstrap-server \
        "$bootstrap" --delete --topic "$t" >/dev/null 2>&1 || echo "warning: topic $t not deleted" >&2
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
check() {  # name expected actual
  if [[ $2 == "$3" ]]; then echo "ok   $1"; else echo "FAIL $1: expected $2, got $3"; failures=$((failures + 1)); fi
}

start() {  # [extra listen args]
  "$samordna" fhir listen --bootstrap "$bootstrap" --port "$port" --topic "$id.events" \
    --memory-topic "$id.memory" --instance "$id" "$@" >"$work/listen.out" 2>>"$work/listen.err" &
  pid=$!
  echo "$pid" >"$work/pid"
  for _ in $(seq 1 600); do
    grep -q "fhir listen:" "$work/listen.out" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$work/listen.err"; echo "listener died"; exit 1; }
    sleep 0.1
  done
  echo "listener did not start"; exit 1
}
# status of one request: send METHOD PATH FILE
send() {
  curl -s -m 20 -o "$work/body" -w '%{http_code}' -X "$1" -H 'Content-Type: application/fhir+json' \
    --data-binary @"$3" "$base$2" || echo 000
}
body_has() { grep -q "$1" "$work/body"; }

mport="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
start --metrics-port "$mport"
code="$(curl -s -m 10 -o "$work/body" -w '%{http_code}' "$base/fhir/metadata")"
check "metadata" 200 "$code"
body_has '"CapabilityStatement"' && echo "ok   metadata is a CapabilityStatement" || { echo "FAIL metadata body"; failures=$((failures + 1)); }

# 1. the shared conformance files
if [[ -d $shared/data/fhir ]]; then
  check "f001 (ambulatory, finished)" 201 "$(send POST /fhir/Encounter "$shared/data/fhir/hl7spec_encounter-example-f001-heart.json")"
  body_has "not an inpatient class" || { echo "FAIL f001 reason"; failures=$((failures + 1)); }
  check "f002 (ambulatory, finished)" 200 "$(send PUT /fhir/Encounter/f002 "$shared/data/fhir/hl7spec_encounter-example-f002-lung.json")"
  check "f203 (inpatient, no Patient)" 422 "$(send PUT /fhir/Encounter/f203 "$shared/data/fhir/hl7spec_encounter-example-f203-20130311.json")"
  body_has '"expression":\["Encounter.subject"\]' || { echo "FAIL f203 expression"; failures=$((failures + 1)); }
  for f in "$shared"/data/fhir/sweden-commonprofiles-care/*; do
    check "$(basename "$f") (FHIR Shorthand, not JSON)" 400 "$(send POST /fhir/Encounter "$f")"
  done
else
  echo "SKIP shared/data/fhir: not present"
fi

# 2. the episode
ep="$src/tests/unit/fhir/episode"
check "admission bundle" 200 "$(send POST /fhir "$ep/1_admit.json")"
body_has "1 event(s) published" || { echo "FAIL admission: 1 event"; failures=$((failures + 1)); }
check "admission bundle again" 200 "$(send POST /fhir "$ep/1_admit.json")"
body_has "0 event(s) published, 1 already known" || { echo "FAIL resend made events"; failures=$((failures + 1)); }
check "steps (no Patient needed now)" 200 "$(send PUT /fhir/Encounter/V7001 "$ep/2_steps.json")"
body_has "1 event(s) published" || { echo "FAIL steps: 1 event"; failures=$((failures + 1)); }
check "finished" 200 "$(send PUT /fhir/Encounter/V7001 "$ep/3_finished.json")"
body_has "2 event(s) published" || { echo "FAIL finished: 2 events"; failures=$((failures + 1)); }
check "id differs from the URL" 400 "$(send PUT /fhir/Encounter/other "$ep/3_finished.json")"
printf '{"resourceType": "Encounter", "status": ' >"$work/bad.json"
check "truncated JSON" 400 "$(send PUT /fhir/Encounter/V7001 "$work/bad.json")"
check "wrong method" 405 "$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X DELETE "$base/fhir/Encounter/V7001")"
check "form content type" 415 "$(curl -s -m 10 -o /dev/null -w '%{http_code}' -d '{}' "$base/fhir/Encounter")"
printf '%s\n' '{"eventId":"x1","episodeId":"P1","occurredAt":"2025-03-11T09:00:00Z","source":"test","dischargeReady":{}}' >"$work/ev.jsonl"
check "POST /events" 200 "$(send POST /events "$work/ev.jsonl")"
printf '%s\n' '{"eventId":"x2","episodeId":"P1","source":"test","dischargeReady":{}}' >"$work/ev2.jsonl"
check "POST /events without occurredAt" 400 "$(send POST /events "$work/ev2.jsonl")"

# The listener's /metrics: what steps 1 and 2 did, in the Prometheus text format.
curl -s -m 10 "http://127.0.0.1:$mport/metrics" >"$work/metrics.txt" || true
series() { awk -v n="$1" '$1 == n {print $2}' "$work/metrics.txt"; }
check "metrics: POST /events 200 counted" 1 "$(series 'samordna_http_requests_total{route="/events",status="200"}')"
check "metrics: POST /events 400 counted" 1 "$(series 'samordna_http_requests_total{route="/events",status="400"}')"
durable="$(series 'samordna_intake_publish_duration_seconds_count{listener="fhir",outcome="durable"}')"
check "metrics: intake latency per durable commit (>= 4)" yes "$([[ ${durable:-0} -ge 4 ]] && echo yes || echo "no: $durable")"
check "metrics: open connections gauge" yes "$([[ -n $(series samordna_fhir_connections_open) ]] && echo yes || echo no)"
# deploy/install-deps.sh installs promtool: missing, the check fails rather than being left out.
check "metrics: promtool check metrics" 0 "$(promtool check metrics <"$work/metrics.txt" >/dev/null 2>&1; echo $?)"

# 3. kill -9, restart: the memory survives
kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
: >"$work/listen.out"
start
check "admission after kill -9" 200 "$(send POST /fhir "$ep/1_admit.json")"
body_has "0 event(s) published" || { echo "FAIL restart forgot the admission"; failures=$((failures + 1)); }
check "finished after kill -9" 200 "$(send PUT /fhir/Encounter/V7001 "$ep/3_finished.json")"
body_has "0 event(s) published" || { echo "FAIL restart forgot the discharge"; failures=$((failures + 1)); }

# Many encounters while the listener is killed; each request is resent until answered 2xx.
python3 - "$ep/1_admit.json" "$ep/3_finished.json" "$work" "$n" <<'PY'
import json, sys
admit, finished, work, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3], int(sys.argv[4])
for i in range(n):
    a = json.loads(json.dumps(admit))
    a["entry"][1]["resource"]["id"] = f"C{i}"
    a["entry"][1]["request"]["url"] = f"Encounter/C{i}"
    json.dump(a, open(f"{work}/a{i}.json", "w"))
    f = json.loads(json.dumps(finished))
    f["id"] = f"C{i}"
    f["extension"] = []
    json.dump(f, open(f"{work}/f{i}.json", "w"))
PY
# The killer runs beside the senders: a SIGKILL lands while requests are in flight.
(
  for k in $(seq 1 "$kills"); do
    sleep 1
    kill -9 "$(cat "$work/pid")" 2>/dev/null || true
    echo "kill -9 #$k" >>"$work/kills"
    : >"$work/listen.out"
    start >/dev/null
  done
) &
killer=$!
resent=0
for i in $(seq 0 $((n - 1))); do
  for req in "POST /fhir $work/a$i.json" "PUT /fhir/Encounter/C$i $work/f$i.json"; do
    read -r method path file <<<"$req"
    for try in $(seq 1 300); do
      code="$(send "$method" "$path" "$file")"
      [[ $code == 200 ]] && break
      resent=$((resent + 1))
      sleep 0.1
    done
    [[ $code == 200 ]] || { echo "FAIL C$i never answered 200 (last $code)"; failures=$((failures + 1)); }
  done
done
wait "$killer" || true
pid="$(cat "$work/pid")"
echo "     $n encounters, $(wc -l <"$work/kills" 2>/dev/null || echo 0) kill -9, $resent resends"

# 4. SIGTERM: a graceful stop (the last listener was started by the killer: not our child)
kill -TERM "$pid"
rm -f "$work/pid"
rc=0
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && rc=1
cat "$work/listen.out" "$work/listen.err" | grep -q "fhir listen: stopped" || rc=2
pid=""
check "SIGTERM: stopped gracefully" 0 "$rc"

# Every event exactly once: 4 of the episode, 1 from /events, 2 per encounter.
"$samordna" consume --bootstrap "$bootstrap" --topic "$id.events" --type event --from-beginning \
  --timeout-ms 15000 >"$work/events.jsonl" 2>"$work/consume.err" || true
python3 - "$work/events.jsonl" "$n" <<'PY' || failures=$((failures + 1))
import json, sys, collections
ids = collections.Counter(json.loads(l)["eventId"] for l in open(sys.argv[1]) if l.strip())
n = int(sys.argv[2])
want = {"V7001/admitted", "V7001/needs-assessed/1741595400", "V7001/discharge-ready/1742202000",
        "V7001/discharged", "x1"} | {f"C{i}/admitted" for i in range(n)} | {f"C{i}/discharged" for i in range(n)}
missing = want - set(ids)
twice = [k for k, c in ids.items() if c > 1]
extra = set(ids) - want
print(f"     events topic: {sum(ids.values())} records, {len(missing)} missing, {len(twice)} twice, {len(extra)} unexpected")
sys.exit(1 if missing or twice or extra else 0)
PY
# Under the sanitizers (the dev build): no report at all, leaks at exit included.
if grep -q "Sanitizer" "$work/listen.err"; then echo "FAIL a sanitizer report"; failures=$((failures + 1)); fi
# Nothing from a patient in the listener's log.
if grep -qE '191212121212|Tolvan' "$work/listen.err"; then echo "FAIL patient data in the log"; failures=$((failures + 1)); fi
if ((failures)); then echo "fhir listen: $failures failure(s)"; exit 1; fi
echo "fhir listen: all passed"
