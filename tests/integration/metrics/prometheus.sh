#!/usr/bin/env bash
# `samordna run --metrics-port` and `samordna serve`'s /metrics scraped by a real Prometheus
# (connectors/metrics/README.md):
#
#   1. a generated feed (with invalid lines) replayed by `samordna run` on the real broker;
#   2. its /metrics checked by `promtool check metrics` (Debian `prometheus`);
#   3. `samordna serve` on the same topics answers 7 inbox requests; its /metrics wants an
#      operator's token;
#   4. a Prometheus started with a generated config scrapes both every second (serve with the
#      operator's bearer token), and PromQL over its HTTP API must answer the counts the test
#      knows: events consumed = events produced, notifications = simulate's, dead letters =
#      simulate's rejections, transactions committed > 0, the /metrics scrapes themselves in
#      samordna_http_requests_total; and serve's 7 inbox requests, its read model's lag 0.
#
#   bash tests/integration/metrics/prometheus.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR
#
# Skips (77) without SAMORDNA_KAFKA_BOOTSTRAP; fails without prometheus/promtool. About 30 s.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../eos/lib.sh
source "$here/../eos/lib.sh"

for tool in prometheus promtool curl python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    # The test command installs every tool (deploy/install-deps.sh): a missing one is a failure,
    # not a skip that would pass the check unseen.
    echo "metrics_prometheus: FAIL: no $tool (bash deploy/install-deps.sh installs prometheus)" >&2
    exit 1
  fi
done

eos_init metrics "$@"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# PromQL over Prometheus's HTTP API: prints the single value of an instant vector ("" when empty).
promql() {
  curl -fsS --max-time 5 --get "http://127.0.0.1:$PROM_PORT/api/v1/query" \
    --data-urlencode "query=$1" 2>/dev/null |
    python3 -c 'import json,sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null || true
}

# Waits until the PromQL query answers WANT; fails after SECONDS.
wait_promql() {  # QUERY WANT SECONDS
  local query=$1 want=$2 until=$((SECONDS + $3)) got=""
  while :; do
    got=$(promql "$query")
    [[ $got == "$want" ]] && break
    eos_alive "$PROM_PID" || eos_fail "prometheus exited (see prometheus.log)"
    ((SECONDS < until)) || eos_fail "PromQL '$query' answers '${got}', expected '$want' after $3 s"
    sleep 1
  done
  eos_log "PromQL $query = $got"
}

eos_feed 150 23 0.03
METRICS_PORT=$(free_port)
eos_config "metricsPort: $METRICS_PORT" "metricsAddress: 127.0.0.1"
eos_load
# What reached Kafka: every line produce did not refuse is a record the service consumes as an event.
PRODUCED=$((EOS_EVENTS - $(wc -l <"$EOS_WORK/produce-refused.lines")))

eos_start run "$EOS_WORK/state" "${EOS_PREFIX}-a"
RUN_PID=$EOS_PID
eos_wait_output 120 "$RUN_PID"

# 2. The exposition format, checked by Prometheus's own linter.
curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" >"$EOS_WORK/metrics.txt" ||
  eos_fail "GET /metrics on port $METRICS_PORT failed"
grep -q '^samordna_events_total{' "$EOS_WORK/metrics.txt" || eos_fail "no samordna_events_total in /metrics"
if ! promtool check metrics <"$EOS_WORK/metrics.txt" >"$EOS_WORK/promtool.log" 2>&1; then
  cat "$EOS_WORK/promtool.log" >&2
  eos_fail "promtool check metrics found problems"
fi
eos_log "promtool check metrics: clean ($(grep -vc '^#' "$EOS_WORK/metrics.txt") samples)"
# No personal data: no identity number (12 digits) and no name from the feed in any label.
if grep -E '[0-9]{12}' "$EOS_WORK/metrics.txt" | grep -v '^#' | grep -q '{'; then
  eos_fail "a 12-digit number in a metric label"
fi

# 3. `samordna serve` on the same topics, its /metrics behind an operator's token (issue 11):
# INBOX_CALLS inbox requests, which Prometheus must count.
openssl ecparam -name prime256v1 -genkey -noout -out "$EOS_WORK/key.pem" 2>/dev/null
openssl ec -in "$EOS_WORK/key.pem" -pubout -out "$EOS_WORK/key.pub.pem" 2>/dev/null
token() { "$SAMORDNA" token --signing-key "$EOS_WORK/key.pem" --org "$1" --role "$2" --ttl 3600; }
SERVE_PORT=$(free_port)
"$SAMORDNA" serve --config "$EOS_CFG" --data-dir "$EOS_WORK/serve-data" --http-port "$SERVE_PORT" \
  --http-address 127.0.0.1 --auth-public-key "$EOS_WORK/key.pub.pem" --audit-topic "$EOS_PREFIX.audit" \
  --delivery-status-topic "$EOS_PREFIX.delivery-status" \
  >"$EOS_WORK/serve.log" 2>&1 </dev/null &
SERVE_PID=$!
echo "$SERVE_PID" >>"$EOS_WORK/pids"
until [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SERVE_PORT/readyz") == 200 ]]; do
  eos_alive "$SERVE_PID" || eos_fail "serve exited: $(tail -n 3 "$EOS_WORK/serve.log")"
  sleep 0.2
done
CASEWORKER=$(token MUNICIPALITY:0180 caseworker)
INBOX_CALLS=7
for ((i = 0; i < INBOX_CALLS; i++)); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $CASEWORKER" \
        "http://127.0.0.1:$SERVE_PORT/api/v1/notifications") == 200 ]] || eos_fail "inbox request $i failed"
done
token REGION:00 operator >"$EOS_WORK/operator.token"
eos_log "serve (pid $SERVE_PID) on 127.0.0.1:$SERVE_PORT answered $INBOX_CALLS inbox requests"

# 4. A real Prometheus scrapes both.
PROM_PORT=$(free_port)
cat >"$EOS_WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: samordna
    static_configs:
      - targets: ["127.0.0.1:$METRICS_PORT"]
  - job_name: serve
    authorization:
      type: Bearer
      credentials_file: $EOS_WORK/operator.token
    static_configs:
      - targets: ["127.0.0.1:$SERVE_PORT"]
YAML
promtool check config "$EOS_WORK/prometheus.yml" >"$EOS_WORK/promtool-config.log" 2>&1 ||
  eos_fail "promtool rejects the generated prometheus.yml: $(cat "$EOS_WORK/promtool-config.log")"
# The work dir is on the command line, so the harness's cleanup kills it too.
prometheus --config.file="$EOS_WORK/prometheus.yml" --storage.tsdb.path="$EOS_WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$EOS_WORK/prometheus.log" 2>&1 </dev/null &
PROM_PID=$!
echo "$PROM_PID" >>"$EOS_WORK/pids"
eos_log "prometheus (pid $PROM_PID) on 127.0.0.1:$PROM_PORT scraping 127.0.0.1:$METRICS_PORT and :$SERVE_PORT"

wait_promql 'up{job="samordna"}' 1 60
wait_promql 'sum(samordna_events_total)' "$PRODUCED" 30
wait_promql 'sum(samordna_notifications_total)' "$EOS_EXPECTED" 30
wait_promql 'sum(samordna_dead_letters_total)' "$EOS_EXPECTED_DL" 30
wait_promql 'samordna_transactions_total{outcome="committed"} > bool 0' 1 5
wait_promql 'sum(samordna_consumer_lag_records)' 0 30
wait_promql 'samordna_timer_fire_delay_seconds_count > bool 0' 1 5
wait_promql 'sum(samordna_http_requests_total{route="/metrics",status="200"}) > bool 0' 1 30
wait_promql 'up{job="serve"}' 1 60
wait_promql 'sum(samordna_http_requests_total{job="serve",route="/api/v1/notifications",status="200"})' "$INBOX_CALLS" 30
wait_promql 'samordna_read_model_lag_records{job="serve"}' 0 30

kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || eos_fail "serve did not stop cleanly on SIGTERM"

eos_stop "$RUN_PID"
EOS_OK=1
