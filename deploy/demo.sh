#!/usr/bin/env bash
# The main job on an embedded default, no external services: the samordna Kafka service runs on an
# in-process Kafka (librdkafka's mock cluster) over a synthetic feed of hospital events, against
# the rule sets in rules/sets, and prints each notification as it is committed.
#
#   bash deploy/demo.sh               generate the demo feed (once) and run it
#   bash deploy/demo.sh EVENTS.jsonl  run your own file of samordna.v1.Event JSON lines
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
exec build/engine/app/samordna demo --rules rules/sets --events "$events"
