#!/usr/bin/env bash
# run_serve_bench.sh: `samordna serve` on the real broker (tests/bench/README.md, "samordna serve").
#   1. catch-up: CATCHUP_EPISODES synthetic episodes (5 records each: the view and 4
#      notifications) produced to fresh topics; the raw ceiling (serve_bench --consume: one
#      librdkafka consumer, read_committed, every partition, no decoding) reads them; then a serve
#      with an empty data dir builds its read model from them: records/s of each, same broker,
#      same run;
#   2. HTTP: EPISODES (default 1,000,000) in a read model written by serve_bench's bulk loader
#      (ReadModel::apply, the rows serve writes; topics named so that serve opens it as its own),
#      a serve on it, and wrk (Debian `wrk`) against /healthz (the client's own ceiling), /metrics
#      (a token verified, nothing audited) and the API routes (token, SQLite, an audit record
#      confirmed by Kafka per request): requests/s, p50, p99.
#   PERF=1 records `perf` on serve during the episode route (perf.txt in the work dir).
# Usage: bash tests/bench/run_serve_bench.sh   (release build in BUILD=build; the broker of
# deploy/kafka/kafka.sh or SAMORDNA_KAFKA_BOOTSTRAP). Not part of the test run: minutes long.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD:-$here/build}
samordna=$build/engine/app/samordna
bench=$build/tests/bench/serve_bench
EPISODES=${EPISODES:-1000000}
CATCHUP_EPISODES=${CATCHUP_EPISODES:-100000}
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-16}
PARTS=${PARTS:-"1 2"}
command -v wrk >/dev/null || bash "$here/deploy/install-deps.sh" --bench
[[ -x $samordna && -x $bench ]] || { echo "build first: cmake --build --preset release" >&2; exit 1; }
bootstrap=${SAMORDNA_KAFKA_BOOTSTRAP:-$(bash "$here/deploy/kafka/kafka.sh" start)}
work=$(mktemp -d "${TMPDIR:-/tmp}/serve-bench.XXXX")
prefix=bench-serve-$$-$(date +%H%M%S)
pid=""
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  bash "$here/deploy/kafka/kafka.sh" tool org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$bootstrap" --delete --topic "^$prefix.*" >/dev/null 2>&1 || true
  echo "work dir (logs): $work"
}
trap cleanup EXIT
log() { printf '[serve-bench +%4ds] %s\n' "$SECONDS" "$*"; }

config() {  # PREFIX -> a service config naming PREFIX's topics
  cat >"$work/$1.yaml" <<YAML
kafka:
  bootstrap: $bootstrap
  partitions: 4
  topics: {events: $1.events, notifications: $1.notifications, deadletter: $1.deadletter, changelog: $1.changelog, episodes: $1.episodes}
YAML
  echo "$work/$1.yaml"
}
openssl ecparam -name prime256v1 -genkey -noout -out "$work/key.pem" 2>/dev/null
openssl ec -in "$work/key.pem" -pubout -out "$work/key.pub.pem" 2>/dev/null
start_serve() {  # PREFIX DATA_DIR
  "$samordna" serve --config "$(config "$1")" --data-dir "$2" --http-port 0 --http-threads 8 \
    --auth-public-key "$work/key.pub.pem" --audit-topic "$1.audit" -v >"$work/serve-$1.log" 2>&1 &
  pid=$!
  until grep -q 'listening on' "$work/serve-$1.log" 2>/dev/null; do
    kill -0 "$pid" || { cat "$work/serve-$1.log"; exit 1; }
    sleep 0.05
  done
  url="http://$(sed -nE 's/.*listening on ([0-9.:]+) .*/\1/p' "$work/serve-$1.log" | tail -1)"
}
wait_ready() {
  until [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/readyz") == 200 ]]; do
    kill -0 "$pid" || { cat "$work/serve-$1.log"; exit 1; }
    sleep 0.1
  done
}
stop_serve() { kill "$pid"; wait "$pid" || true; pid=""; }

if [[ " $PARTS " == *" 1 "* ]]; then
  c=$prefix-c
  log "1. catch-up: $CATCHUP_EPISODES episodes to $c.*"
  "$bench" --produce "$bootstrap" "$c" "$CATCHUP_EPISODES" | tee "$work/produce.txt"
  records=$((CATCHUP_EPISODES * 5))
  "$bench" --consume "$bootstrap" "$c" | tee "$work/raw.txt"
  t0=$(date +%s.%N)
  start_serve "$c" "$work/data-c"
  wait_ready "$c"
  t1=$(date +%s.%N)
  stop_serve
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]);
print('serve catch-up: %d records in %.1f s (from start to /readyz 200): %.0f records/s' % (n, s, n/s))" \
    "$t0" "$t1" "$records" | tee "$work/catchup.txt"
  "$samordna" serve --dump --data-dir "$work/data-c" | grep -c '^episodes' | sed 's/^/  episode rows: /' || true
fi

if [[ " $PARTS " == *" 2 "* ]]; then
  h=$prefix-h
  log "2. HTTP: $EPISODES episodes by the bulk loader"
  "$bench" "$EPISODES" 0 "$work/data-h" "$h" | tee "$work/load.txt"
  start_serve "$h" "$work/data-h"
  wait_ready "$h"
  log "serve ready at $url"
  token() { "$samordna" token --signing-key "$work/key.pem" --org "$1" --role "$2" --ttl 7200; }
  # serve_bench's synthetic organisations: episode i has ward-(i%400), municipality 1000+i%290,
  # region 1+i%21.
  cat >"$work/random.lua" <<'LUA'
local token = os.getenv("TOKEN")
local route = os.getenv("ROUTE")
local n = tonumber(os.getenv("EPISODES"))
math.randomseed(os.time())
request = function()
  local path = route
  if route == "episode" then
    -- an episode of ward-7: i = 7 + 400 k
    path = "/api/v1/episodes/ep-" .. (7 + 400 * math.random(0, math.floor(n / 400) - 1))
  end
  local headers = {}
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("GET", path, headers)
end
LUA
  run_wrk() {  # NAME ROUTE TOKEN
    TOKEN=$3 ROUTE=$2 EPISODES=$EPISODES wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency \
      -s "$work/random.lua" "$url" >"$work/wrk-$1.txt" 2>&1
    python3 - "$1" "$work/wrk-$1.txt" <<'PY'
import re, sys
t = open(sys.argv[2]).read()
rps = re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)
lat = dict(re.findall(r"\s+(50|99)%\s+([\d.]+\w+)", t))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print("%-28s %9.0f req/s  p50 %-9s p99 %-9s %s" % (sys.argv[1], float(rps), lat.get("50"),
      lat.get("99"), "non-2xx: " + bad.group(1) if bad else ""))
PY
  }
  {
    echo "wrk -t2 -c$CONNECTIONS -d${DURATION}s, serve --http-threads 8, $EPISODES episodes"
    run_wrk healthz /healthz ""
    run_wrk metrics /metrics "$(token REGION:1 operator)"
    if [[ ${PERF:-0} == 1 ]]; then
      perf record -F 499 -g -p "$pid" -o "$work/perf.data" -- sleep "$DURATION" >/dev/null 2>&1 &
      perf_pid=$!
    fi
    run_wrk episode episode "$(token WARD:ward-7 caseworker)"
    if [[ ${PERF:-0} == 1 ]]; then
      wait "$perf_pid" || true
      perf report -i "$work/perf.data" --no-children --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -25 >"$work/perf.txt"
    fi
    run_wrk inbox /api/v1/notifications "$(token MUNICIPALITY:1007 caseworker)"
    run_wrk deadlines '/api/v1/deadlines?state=at_risk' "$(token REGION:8 coordinator)"
  } | tee "$work/http.txt"
  stop_serve
fi
