#!/usr/bin/env bash
# web.browser: the web app (web/) in Debian's chromium, driven by playwright-core, against
# `samordna serve` and `samordna run` (wall clock) on the real broker (README.md in this folder).
# Usage: web.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR. Skips (77) without a broker, chromium or the
# npm packages (deploy/install-web-test-deps.sh).
set -euo pipefail
# shellcheck source=../eos/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../eos/lib.sh"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
eos_init web "$@"

CHROMIUM=${CHROMIUM:-}
for c in /usr/lib/chromium/chromium /usr/bin/chromium; do
  [[ -z $CHROMIUM && -x $c ]] && CHROMIUM=$c
done
modules=$EOS_SOURCE/tests/web/node_modules
if [[ -z $CHROMIUM || ! -d $modules/playwright-core || ! -d $modules/axe-core ]] || ! command -v node >/dev/null; then
  echo "web: skipped: needs chromium, node and tests/web/node_modules (deploy/install-deps.sh, deploy/install-web-test-deps.sh)"
  exit 77
fi

# The feed: a few episodes around now (feed.py), on the wall clock.
WEB_SHOTS=${WEB_SHOTS:-$EOS_WORK/screenshots}
python3 "$here/feed.py" "$EOS_WORK"
EOS_CLOCK=wall eos_config
eos_topics create "$EOS_PREFIX.events" --if-not-exists --partitions 4 --replication-factor 1 \
  >"$EOS_WORK/topics.log" 2>&1 || eos_fail "cannot create $EOS_PREFIX.events"
EOS_TOPICS_MADE=1
"$SAMORDNA" produce --config "$EOS_CFG" --file "$EOS_WORK/feed.jsonl" 2>"$EOS_WORK/produce.err" ||
  eos_fail "produce failed: $(cat "$EOS_WORK/produce.err")"
eos_start run "$EOS_WORK/state" "$EOS_PREFIX-a"
RUN_PID=$EOS_PID

# past.jsonl (feed.py, patient M: a payment liability) on the events' own time: a second engine
# replays it in event time up to now, into the same notifications and episodes topics, and exits.
# Its own events, changelog and dead-letter topics and consumer group; the wall-clock engine
# above would send M's notices now, and nothing would be owed. In the background, while serve
# starts (the readiness loop below waits for its liability).
sed -e "s/\.events,/.past-events,/; s/\.deadletter,/.past-deadletter,/; s/\.changelog,/.past-changelog,/" \
    -e "s/^  groupId: .*/&-past/; s|^stateDir: .*|stateDir: $EOS_WORK/past-state|" "$EOS_CFG" >"$EOS_WORK/past.yaml"
(
  eos_topics create "$EOS_PREFIX.past-events" --if-not-exists --partitions 4 --replication-factor 1 &&
    "$SAMORDNA" produce --config "$EOS_WORK/past.yaml" --file "$EOS_WORK/past.jsonl" || exit
  exec "$SAMORDNA" run --config "$EOS_WORK/past.yaml" --instance-id "$EOS_PREFIX-past" --clock event-time \
    --until "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --exit-at-end -v
) >"$EOS_WORK/past.log" 2>&1 </dev/null &
PAST_PID=$!
echo "$PAST_PID" >>"$EOS_WORK/pids"

openssl ecparam -name prime256v1 -genkey -noout -out "$EOS_WORK/key.pem" 2>/dev/null
openssl ec -in "$EOS_WORK/key.pem" -pubout -out "$EOS_WORK/key.pub.pem" 2>/dev/null
token() { "$SAMORDNA" token --signing-key "$EOS_WORK/key.pem" --org "$1" --role "$2" --ttl 3600; }

# serve with the web app from the source tree; -vv so that the log check below has every line.
"$SAMORDNA" serve --config "$EOS_CFG" --data-dir "$EOS_WORK/serve" --http-port 0 \
  --auth-public-key "$EOS_WORK/key.pub.pem" --audit-topic "$EOS_PREFIX.audit" \
  --delivery-status-topic "$EOS_PREFIX.delivery-status" \
  --web-dir "$EOS_SOURCE/web" -vv >"$EOS_WORK/serve.log" 2>&1 </dev/null &
SERVE_PID=$!
echo "$SERVE_PID" >>"$EOS_WORK/pids"
eos_wait_log "$EOS_WORK/serve.log" 'listening on' 1 60 "$SERVE_PID"
URL="http://$(sed -nE 's/.*listening on ([0-9.:]+) .*/\1/p' "$EOS_WORK/serve.log" | tail -1)"

# Ready, and the engine's notices are in: the held notices (for secrecy, for missing content) reach
# the ward's inbox last.
WARD_TOKEN=$(token "WARD:webtest-avd-12" caseworker)
until=$((SECONDS + 120))
held() { curl -sf -H "Authorization: Bearer $WARD_TOKEN" "$URL/api/v1/notifications?kind=noticeHeld"; }
REGION_TOKEN=$(token REGION:01 coordinator)
until held | grep -q MISSING_CONSENT && held | grep -q missingFields &&
      curl -sf -H "Authorization: Bearer $WARD_TOKEN" "$URL/api/v1/deadlines?state=missed" | grep -q INFORMATION_TRANSFER &&
      curl -sf -H "Authorization: Bearer $REGION_TOKEN" "$URL/api/v1/statistics/payment-liability" | grep -q '"days":[1-9]'; do
  eos_alive "$SERVE_PID" || eos_fail "serve exited"
  [[ -z $PAST_PID ]] || eos_alive "$PAST_PID" || { wait "$PAST_PID" || eos_fail "the event-time replay of past.jsonl failed"; PAST_PID=; }
  eos_alive "$RUN_PID" || eos_fail "run exited"
  ((SECONDS < until)) || eos_fail "the feed's notices did not reach serve in 120 s"
  sleep 0.5
done
if [[ -n $PAST_PID ]]; then wait "$PAST_PID" || eos_fail "the event-time replay of past.jsonl failed"; fi
grep -q 'stopped: consumed [0-9]* dead-lettered 0 ' "$EOS_WORK/past.log" || eos_fail "past.jsonl: a line was dead-lettered"
eos_log "serve at $URL has the feed"

# Static files: content types, the CSP, traversal refused.
hdrs=$(curl -sfD - -o /dev/null "$URL/js/app.js")
grep -qi '^content-type: text/javascript' <<<"$hdrs" || eos_fail "app.js content type: $hdrs"
grep -qi "^content-security-policy: default-src 'none'; script-src 'self'" <<<"$hdrs" || eos_fail "no CSP"
for bad in '/../CMakeLists.txt' '/%2e%2e/CMakeLists.txt' '/js/..%2f..%2fCMakeLists.txt' '/.git/HEAD' '/js/%2e%2e/index.html'; do
  code=$(curl -s --path-as-is -o "$EOS_WORK/trav" -w '%{http_code}' "$URL$bad")
  [[ $code == 404 || $code == 400 ]] || eos_fail "path traversal $bad answered $code"
  ! grep -q 'project(' "$EOS_WORK/trav" || eos_fail "path traversal $bad leaked a file"
done

TOKENS=$(python3 -c 'import json,sys; print(json.dumps(dict(zip(sys.argv[1::2], sys.argv[2::2]))))' \
  mun0180 "$(token MUNICIPALITY:0180 caseworker)" ward "$WARD_TOKEN" region "$REGION_TOKEN" \
  vc "$(token OUTPATIENT_UNIT:webtest-vc-norr caseworker)")
rc=0
WEB_URL=$URL WEB_TOKENS=$TOKENS WEB_ORGS=$EOS_WORK/orgs.json WEB_SHOTS=$WEB_SHOTS \
  WEB_NODE_MODULES=$modules CHROMIUM=$CHROMIUM \
  WEB_LIVE_CMD="'$SAMORDNA' produce --config '$EOS_CFG' --file '$EOS_WORK/live.jsonl' 2>/dev/null" \
  timeout 240 node "$here/web_test.mjs" || rc=$?
((rc == 0)) || eos_fail "the browser test failed ($rc)"

# No personal data in serve's log (every line at -vv) or in the engine's.
python3 - "$EOS_WORK/orgs.json" "$EOS_WORK/serve.log" "$EOS_WORK/run.log" "$EOS_WORK/past.log" <<'PY' || eos_fail "personal data in a log"
import json, sys
p = json.load(open(sys.argv[1]))["patients"].values()
needles = [x["personalId"] for x in p] + [x["name"] for x in p]
for f in sys.argv[2:]:
    text = open(f, encoding="utf-8", errors="replace").read()
    hits = [n for n in needles if n in text]
    assert not hits, f"{f}: {len(hits)} personal data items"
print(f"logs: no personal data in {len(sys.argv) - 2} logs")
PY
eos_log "screenshots in $WEB_SHOTS"
EOS_OK=1
