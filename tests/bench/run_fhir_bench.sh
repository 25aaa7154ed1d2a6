#!/usr/bin/env bash
# The FHIR listener's benchmark (tests/bench/README.md, "fhir listen"): requests per second of
# POST /events and POST /fhir/Encounter over 1 and 16 keep-alive connections, beside librdkafka's
# own acks=all produce rate on the same broker in the same run.
#
#   bash tests/bench/run_fhir_bench.sh [REQUESTS]        (default 2000; release build in build/)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-2000}
bin=${SAMORDNA:-$root/build/engine/app/samordna}
ceiling=${PRODUCE_CEILING:-$root/build/tests/bench/produce_ceiling}
export SAMORDNA_KAFKA_BOOTSTRAP=${SAMORDNA_KAFKA_BOOTSTRAP:-$(bash "$root/deploy/kafka/kafka.sh" start)}
topic=bench.fhir_ceiling.$$
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for c in 1 16; do
  python3 "$root/tests/bench/fhir_listen_bench.py" "$bin" "$n" "$c"
  "$ceiling" --bootstrap "$SAMORDNA_KAFKA_BOOTSTRAP" --topic "$topic" --records "$n" \
    --mode sequential --chains "$c"
done
"$ceiling" --bootstrap "$SAMORDNA_KAFKA_BOOTSTRAP" --topic "$topic" --records $((n * 10)) --mode stream
bash "$root/deploy/kafka/kafka.sh" tool org.apache.kafka.tools.TopicCommand --bootstrap-server \
  "$SAMORDNA_KAFKA_BOOTSTRAP" --delete --topic "$topic" >/dev/null 2>&1 || echo "warning: topic $topic not deleted" >&2
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
