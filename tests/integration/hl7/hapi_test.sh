#!/usr/bin/env bash
# HAPI HL7v2 2.6.0 as an independent sender (ctest hl7.hapi, label integration). Fetches
# ca.uhn.hapi:hapi-structures-v25:2.6.0 (and hapi-base) from Maven Central with Maven into its
# local repository (a cache: once fetched, no network), builds the classpath with Maven, compiles
# HapiSender.java into a temp dir, runs it against a listener with its own topics.
#   usage: hapi_test.sh SAMORDNA SOURCE_DIR        (exit 77: no broker, no mvn/javac, no Maven)
set -euo pipefail
samordna=$1
src=$2
[[ -n ${SAMORDNA_KAFKA_BOOTSTRAP:-} ]] || { echo "skipped: SAMORDNA_KAFKA_BOOTSTRAP is unset"; exit 77; }
command -v mvn >/dev/null && command -v javac >/dev/null || { echo "skipped: no mvn or javac"; exit 77; }
work=$(mktemp -d)
listener=
cleanup() {
  [[ -n $listener ]] && kill -9 "$listener" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
here=$(dirname "$0")
cat >"$work/pom.xml" <<'POM'
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>samordna</groupId><artifactId>hapi-sender</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>ca.uhn.hapi</groupId><artifactId>hapi-base</artifactId><version>2.6.0</version></dependency>
    <dependency><groupId>ca.uhn.hapi</groupId><artifactId>hapi-structures-v25</artifactId><version>2.6.0</version></dependency>
  </dependencies>
</project>
POM
if ! (cd "$work" && timeout 600 mvn -q -B dependency:build-classpath -Dmdep.outputFile=cp.txt >mvn.log 2>&1); then
  echo "skipped: Maven could not fetch HAPI 2.6.0:"; tail -5 "$work/mvn.log"; exit 77
fi
javac -d "$work/classes" -cp "$(cat "$work/cp.txt")" "$here/hapi/HapiSender.java"
tag=hl7hapi.$$.$RANDOM
"$samordna" hl7 listen --bootstrap "$SAMORDNA_KAFKA_BOOTSTRAP" --port 0 --instance "$tag" \
  --events-topic "$tag.events" --memory-topic "$tag.memory" 2>"$work/listener.log" &
listener=$!
for _ in $(seq 600); do
  port=$(grep -o 'listening on [^:]*:[0-9]*' "$work/listener.log" | grep -o '[0-9]*$' || true)
  [[ -n $port ]] && break
  kill -0 "$listener" || { cat "$work/listener.log"; exit 1; }
  sleep 0.1
done
rc=0
java -cp "$work/classes:$(cat "$work/cp.txt")" HapiSender "$port" H || rc=$?
kill -TERM "$listener"
wait "$listener" || rc=1
listener=
cat "$work/listener.log"
if ((rc == 0)); then
  for t in "$tag.events" "$tag.memory"; do
    bash "$src/deploy/kafka/kafka.sh" tool org.apache.kafka.tools.TopicCommand --bootstrap-server \
      "$SAMORDNA_KAFKA_BOOTSTRAP" --delete --topic "$t" >/dev/null 2>&1 || echo "warning: topic $t not deleted" >&2
  done
fi
exit $rc
