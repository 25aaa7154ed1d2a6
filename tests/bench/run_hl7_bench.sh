#!/usr/bin/env bash
# The MLLP listener's benchmark (tests/bench/README.md, "hl7 listen"): send -> ACK over 1 and 16
# connections beside librdkafka's own acks=all produce rate on the same broker, then (FULL=1) the
# full kill -9 crash test: 10,000 messages over 20 connections, 5 SIGKILLs.
#
#   bash tests/bench/run_hl7_bench.sh [MESSAGES]        (default 3000; release build in build/)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-3000}
bin=$root/build/engine/app/samordna
ceiling=$root/build/tests/bench/produce_ceiling
export SAMORDNA_KAFKA_BOOTSTRAP=${SAMORDNA_KAFKA_BOOTSTRAP:-$(bash "$root/deploy/kafka/kafka.sh" start)}
topic=bench.produce_ceiling.$$
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for c in 1 16; do
  python3 "$root/tests/bench/hl7_listen_bench.py" "$bin" "$root" "$n" "$c"
  "$ceiling" --bootstrap "$SAMORDNA_KAFKA_BOOTSTRAP" --topic "$topic" --records "$n" \
    --mode sequential --chains "$c"
done
"$ceiling" --bootstrap "$SAMORDNA_KAFKA_BOOTSTRAP" --topic "$topic" --records $((n * 10)) --mode stream
bash "$root/deploy/kafka/kafka.sh" tool org.apache.kafka.tools.TopicCommand --bootstrap-server \
  "$SAMORDNA_KAFKA_BOOTSTRAP" --delete --topic "$topic" >/dev/null 2>&1 || echo "warning: topic $topic not deleted" >&2
if [[ ${FULL:-0} == 1 ]]; then
  python3 "$root/tests/integration/hl7/crash_test.py" "$bin" "$root" 10000 20 5
fi
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
