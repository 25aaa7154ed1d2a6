#!/usr/bin/env bash
# demo.serve: the README's main job without outside services, as deploy/demo.sh runs it (without
# the install and build steps, which ctest must not run under its own feet): `samordna demo
# --keep-running` on librdkafka's embedded mock cluster, then `samordna serve` on the same
# cluster with createTopics false. Checked:
#   - serve's inbox for the municipality with the most notices is exactly the notifications the
#     demo printed for it (the mock cluster through the same Reader as a real broker);
#   - a demo token of another municipality sees none of that municipality's patients;
#   - a kvittens (POST .../ack, 202) goes through the embedded cluster to the demo's service and
#     comes back to serve as acknowledged.
# No broker needed. About 20 s.
#
#   demo_serve.sh SAMORDNA SAMORDNA_GEN SOURCE_DIR
set -euo pipefail
samordna=$1 gen=$2 src=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/samordna-demo-serve.XXXX")
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if ((rc == 0)); then rm -rf "$work"; else echo "demo.serve: work dir kept: $work" >&2; fi
}
trap cleanup EXIT
fail() { echo "demo.serve: FAIL: $*" >&2; exit 1; }
log() { echo "[demo.serve +${SECONDS}s] $*"; }

"$gen" --episodes 120 --seed 7 --days 20 --quiet --out "$work/events.jsonl"
"$samordna" demo --rules "$src/rules/sets" --events "$work/events.jsonl" --keep-running \
  --retention-days 0 --bootstrap-file "$work/bootstrap" >"$work/notifications.jsonl" 2>"$work/demo.err" &
pids+=($!)
for _ in $(seq 600); do [[ -s $work/bootstrap ]] && break; sleep 0.1; done
[[ -s $work/bootstrap ]] || fail "the embedded cluster did not start: $(tail -n 3 "$work/demo.err")"
bootstrap=$(cat "$work/bootstrap")
last=-1
for _ in $(seq 60); do
  n=$(wc -l <"$work/notifications.jsonl")
  ((n > 0 && n == last)) && break
  kill -0 "${pids[0]}" 2>/dev/null || fail "samordna demo ended: $(tail -n 3 "$work/demo.err")"
  last=$n
  sleep 1
done
log "demo: $n notifications on the embedded cluster at $bootstrap"

openssl ecparam -name prime256v1 -genkey -noout -out "$work/key.pem" 2>/dev/null
openssl ec -in "$work/key.pem" -pubout -out "$work/key.pub.pem" 2>/dev/null
token() { "$samordna" token --signing-key "$work/key.pem" --org "$1" --role "$2" --ttl 600; }
printf 'kafka:\n  bootstrap: %s\n  createTopics: false\n' "$bootstrap" >"$work/serve.yaml"
"$samordna" serve --config "$work/serve.yaml" --http-port 0 --data-dir "$work/serve" \
  --auth-public-key "$work/key.pub.pem" >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do grep -q 'listening on' "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
url="http://$(sed -nE 's/.*listening on ([0-9.:]+) .*/\1/p' "$work/serve.log" | tail -1)"
[[ $url != http:// ]] || fail "serve did not start: $(tail -n 3 "$work/serve.log")"
for _ in $(seq 600); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/readyz") == 200 ]] && break
  kill -0 "${pids[1]}" 2>/dev/null || fail "serve exited: $(tail -n 3 "$work/serve.log")"
  sleep 0.1
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "$url/readyz") == 200 ]] || fail "serve not ready after 60 s"
log "serve ready at $url"

read -r mun other < <(python3 - "$work/notifications.jsonl" <<'PY'
import collections, json, sys
count = collections.Counter()
for line in open(sys.argv[1]):
    for a in json.loads(line).get("addressees", []):
        if a["kind"] == "MUNICIPALITY":
            count[a["id"]] += 1
top = [m for m, _ in count.most_common(2)]
print(*top)
PY
)
[[ -n ${other:-} ]] || fail "the feed has fewer than two municipalities"
tok=$(token "MUNICIPALITY:$mun" caseworker)
curl -s -H "Authorization: Bearer $tok" "$url/api/v1/notifications?limit=500" >"$work/inbox.json"
python3 "$src/tests/integration/serve/inbox_matches.py" "$work/notifications.jsonl" \
  "$work/inbox.json" "$mun" || fail "the inbox is not the demo's notifications for the municipality"

# Another municipality's token sees none of these patients.
curl -s -H "Authorization: Bearer $(token "MUNICIPALITY:$other" caseworker)" \
  "$url/api/v1/notifications?limit=500" >"$work/other.json"
python3 - "$work/inbox.json" "$work/other.json" <<'PY' || fail "a municipality sees another's notifications"
import json, sys
mine = {i["notification"]["notificationId"] for i in json.load(open(sys.argv[1]))["items"]}
theirs = {i["notification"]["notificationId"] for i in json.load(open(sys.argv[2]))["items"]}
assert not (mine & theirs), len(mine & theirs)
PY

# A kvittens through the embedded cluster and back.
ref=$(python3 -c '
import base64, json, sys
for i in json.load(open(sys.argv[1]))["items"]:
    n = i["notification"]
    if "admissionNotice" in n and not i["acknowledged"]:
        print(base64.urlsafe_b64encode(n["notificationId"].encode()).decode().rstrip("=")); break
' "$work/inbox.json")
[[ -n $ref ]] || fail "no unacknowledged admission notice to acknowledge"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $tok" \
  "$url/api/v1/notifications/$ref/ack")
[[ $code == 202 ]] || fail "ack: HTTP $code"
until=$((SECONDS + 60))
until curl -s -H "Authorization: Bearer $tok" "$url/api/v1/notifications/$ref" | grep -q '"acknowledged":true'; do
  ((SECONDS < until)) || fail "the kvittens never came back as acknowledged"
  sleep 0.5
done
log "kvittens: 202, applied by the demo's service, shown as acknowledged"
echo "demo.serve: PASS"
