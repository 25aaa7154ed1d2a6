#!/usr/bin/env bash
# The main job on an embedded default, no external services: the samordna Kafka service runs on an
# in-process Kafka (librdkafka's mock cluster) over a synthetic feed of hospital events, against
# the rule sets in rules/sets, and prints each notification as it is committed. Then `samordna
# serve` (the read model, the API and the web app) runs on the same embedded Kafka, and the demo
# prints the web app's URL and one ready login (a bearer token) per demo organisation; both keep
# running until Ctrl-C.
#
#   bash deploy/demo.sh               generate the demo feed (once) and run it
#   bash deploy/demo.sh EVENTS.jsonl  run your own file of samordna.v1.Event JSON lines
#   SAMORDNA_DEMO_WEB=0 bash deploy/demo.sh   the service only: print the notifications and stop
#   SAMORDNA_DEMO_PORT=8080           the web app's port (default 8080; 0 picks a free one)
#
# Idempotent: installs only missing packages, rebuilds only what changed in build/ (the release
# preset), and regenerates the feed only when it is missing.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
jobs="${SAMORDNA_JOBS:-2}"

# The demo feed: a synthetic month of a mid-sized hospital from tests/bench/generator (same seed,
# same bytes), every path of the process included.
demo_generator_target="samordna_gen"
demo_generator="build/tests/bench/generator/samordna_gen"
demo_generator_args=(--episodes 1000 --seed 1 --days 30 --quiet)
demo_feed="build/demo/events-1000-seed1.jsonl"

bash deploy/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --parallel "$jobs" --target samordna ${demo_generator_target:+"$demo_generator_target"}

events="${1:-}"
if [[ -z $events ]]; then
  if [[ ! -s $demo_feed ]]; then
    if [[ -z $demo_generator ]]; then
      echo "demo.sh: the demo feed generator is not wired in yet (TODO in deploy/demo.sh);" >&2
      echo "         pass a file of Event JSON lines instead: bash deploy/demo.sh EVENTS.jsonl" >&2
      exit 2
    fi
    mkdir -p "$(dirname "$demo_feed")"
    "$demo_generator" "${demo_generator_args[@]}" >"$demo_feed.tmp"
    mv "$demo_feed.tmp" "$demo_feed"   # never leave a half-written feed behind
  fi
  events="$demo_feed"
fi

# The Kafka service (samordna run's code) on librdkafka's in-process mock cluster, on loopback:
# notifications print as each transaction commits. `samordna simulate` gives the same output
# without Kafka; README.md shows the service against a real broker.
if [[ ${SAMORDNA_DEMO_WEB:-1} == 0 ]]; then
  exec build/engine/app/samordna demo --rules rules/sets --events "$events"
fi

# With the web app: the service keeps running on the embedded cluster (acknowledgements made in
# the browser go through it), and serve reads the same cluster. The mock cluster is new on every
# run, so the read model starts empty each time.
samordna=build/engine/app/samordna
work=build/demo/web
rm -rf "$work"
mkdir -p "$work"
openssl ecparam -name prime256v1 -genkey -noout -out "$work/key.pem" 2>/dev/null
openssl ec -in "$work/key.pem" -pubout -out "$work/key.pub.pem" 2>/dev/null
pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --retention-days 0: the replay clock runs on to --until (2100), past every settlement; the
# episodes stay, so that the worklist has them and a kvittens finds its episode.
: >"$work/notifications.jsonl"
"$samordna" demo --rules rules/sets --events "$events" --keep-running --retention-days 0 \
  --bootstrap-file "$work/bootstrap" >"$work/notifications.jsonl" &
pids+=($!)
tail -n +1 -f --pid="${pids[0]}" "$work/notifications.jsonl" &
pids+=($!)
for _ in $(seq 600); do [[ -s $work/bootstrap ]] && break; sleep 0.1; done
[[ -s $work/bootstrap ]] || { echo "demo.sh: the embedded cluster did not start" >&2; exit 1; }
bootstrap=$(cat "$work/bootstrap")

# Wait for the feed's notifications to be committed before serve starts reading, so that the
# terminal shows them first and the logins last.
last=-1
for _ in $(seq 100); do
  n=$(wc -l <"$work/notifications.jsonl")
  ((n > 0 && n == last)) && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "demo.sh: samordna demo ended" >&2; exit 1; }
  last=$n
  sleep 3
done

# The mock cluster has no controller for the Admin API (librdkafka 2.0.2 answers CreateTopics
# with "Failed while waiting for controller"), so serve does not create topics here: the demo made
# them, samordna.audit included, with the mock cluster's own call.
printf 'kafka:\n  bootstrap: %s\n  createTopics: false\n' "$bootstrap" >"$work/serve.yaml"
port=${SAMORDNA_DEMO_PORT:-8080}
"$samordna" serve --config "$work/serve.yaml" --http-port "$port" --data-dir "$work/serve" \
  --auth-public-key "$work/key.pub.pem" --web-dir web >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do grep -q 'listening on' "$work/serve.log" && break; sleep 0.1; done
url="http://$(sed -nE 's/.*listening on ([0-9.:]+) .*/\1/p' "$work/serve.log" | tail -1)"
[[ $url != http:// ]] || { cat "$work/serve.log" >&2; echo "demo.sh: serve did not start" >&2; exit 1; }
for _ in $(seq 1200); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/readyz") == 200 ]] && break
  sleep 0.1
done

# One login per demo organisation: the municipality with the most notices (a caseworker and a
# coordinator), a second municipality, the outpatient unit, the ward, and their region.
mapfile -t orgs < <(python3 - "$work/notifications.jsonl" <<'PY'
import collections, json, sys
count = collections.Counter()
for line in open(sys.argv[1]):
    for a in json.loads(line).get("addressees", []):
        count[(a["kind"], a["id"])] += 1
def top(kind, skip=()):
    for (k, i), _ in count.most_common():
        if k == kind and i not in skip:
            return i
mun = top("MUNICIPALITY")
for kind, role, label, org in [
    ("MUNICIPALITY", "caseworker", "Kommun (inkorg)", mun),
    ("MUNICIPALITY", "coordinator", "Kommun, samordnare (inkorg, uppföljning)", mun),
    ("MUNICIPALITY", "caseworker", "En annan kommun (inkorg)", top("MUNICIPALITY", {mun})),
    ("OUTPATIENT_UNIT", "caseworker", "Öppenvårdsenhet (inkorg)", top("OUTPATIENT_UNIT")),
    ("WARD", "caseworker", "Vårdavdelning (arbetslista)", top("WARD")),
    ("REGION", "coordinator", "Region, samordnare (uppföljning)", top("REGION")),
]:
    if org:
        print(f"{kind}:{org}\t{role}\t{label}")
PY
)
echo
echo "================================================================================"
echo " samordna web app: $url/"
echo " Paste one of these tokens on the login page (valid 8 h; samordna token mints more):"
echo "================================================================================"
for line in "${orgs[@]}"; do
  IFS=$'\t' read -r org role label <<<"$line"
  echo
  echo "  $label  --org $org --role $role"
  "$samordna" token --signing-key "$work/key.pem" --org "$org" --role "$role" --ttl 28800
done
echo
echo "API: curl -H \"Authorization: Bearer TOKEN\" $url/api/v1/notifications   (OpenAPI: $url/openapi.json)"
echo "The service and serve keep running; Ctrl-C stops both. serve's log: $work/serve.log"
wait "${pids[0]}"
