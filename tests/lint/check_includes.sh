#!/usr/bin/env bash
# Include-direction check: dependencies between our modules point one way (shared/style.md,
# "The tree is the diagram"). Reads every #include of our C++ sources and fails, with file:line and
# the offending include, on an include against the grain.
#
#   bash tests/lint/check_includes.sh [ROOT]     ROOT defaults to the repo root
#
# The layering (a module may include itself, the C++ standard library and third-party <...> headers,
# plus the modules listed):
#   engine/core       -
#   rules             core, proto
#   engine/state      core, rules, proto
#   engine/store      core, proto
#   engine/timers     core, store
#   engine/pipeline   core, rules, state, store, timers, proto
#   engine/app        anything
#   connectors/<x>    core, proto, rules, pipeline, connectors/http (the one HTTP server every
#                     HTTP endpoint shares); not another connector: connectors/hl7 and fhir stay
#                     Kafka-free and are handed a publish function by engine/app
# A connector also names no type of the engine's insides in its code: `store::`, `state::` and
# `rocksdb::` in connectors/ are reported (the drive loop, engine/pipeline/driver.h, is its only
# door into the engine). librdkafka (<librdkafka/...>, `RdKafka::`, `rd_kafka_`) is used in
# connectors/kafka only: every other process reaches Kafka through its headers (client.h,
# reader.h, record_producer.h, publisher.h, intake.h, service.h, admin.h, mock_cluster.h).
# "proto" is the generated contract, included as "samordna/v1/<name>.pb.h". tests/ may include
# anything and is not checked; no production module may include tests/ or engine/app/.
#
# Our headers are included by their path from the repo root ("engine/timers/timer_store.h"); a
# quoted include that names no module ("timer_store.h", "../core/result.h") is reported too, as is
# a source file in a folder missing from the table: a new module gets a row here when it is added.
set -euo pipefail

root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
cd "$root"

# Module → the modules it may include, besides itself. "*" means anything.
declare -A allowed=(
  [core]=""
  [rules]="core proto"
  [state]="core rules proto"
  [store]="core proto"
  [timers]="core store"
  [pipeline]="core rules state store timers proto"
  [app]="*"
  [connectors]="core proto rules pipeline connectors/http"
)

# Prints the module a repo-relative path belongs to (connectors/<x> keeps its sub-folder), or
# nothing when the path is in no module.
module_of() {
  case "$1" in
    engine/core/*) echo core ;;
    engine/state/*) echo state ;;
    engine/store/*) echo store ;;
    engine/timers/*) echo timers ;;
    engine/pipeline/*) echo pipeline ;;
    engine/app/*) echo app ;;
    rules/*) echo rules ;;
    connectors/*/*) local rest="${1#connectors/}"; echo "connectors/${rest%%/*}" ;;
    samordna/v1/*.pb.h) echo proto ;;
    tests/*) echo tests ;;
  esac
}

violations=0
report() {  # file line message
  printf '%s:%s: %s\n' "$1" "$2" "$3"
  violations=$((violations + 1))
}

mapfile -t files < <(find engine rules connectors -type f \
  \( -name '*.h' -o -name '*.hh' -o -name '*.hpp' -o -name '*.cc' -o -name '*.cpp' \) \
  2>/dev/null | LC_ALL=C sort)

for file in "${files[@]}"; do
  mod="$(module_of "$file")"
  if [[ -z $mod ]]; then
    report "$file" 1 "file is in no module of the layering table; add its folder to tests/lint/check_includes.sh"
    continue
  fi
  rule_key="${mod%%/*}"                  # connectors/kafka → connectors
  may="${allowed[$rule_key]}"
  [[ $may == "*" ]] && continue

  # "<line>:<delimiter><path>" for each #include, e.g. 12:"engine/core/result.h
  while IFS=: read -r line inc; do
    delim="${inc:0:1}"
    path="${inc:1}"
    target="$(module_of "$path")"
    if [[ -z $target ]]; then
      # Standard library and third-party <...> headers are fine everywhere.
      [[ $delim == "<" ]] && continue
      report "$file" "$line" "#include \"$path\": quoted includes name our headers by their path from the repo root (engine/..., rules/..., connectors/..., samordna/v1/*.pb.h); use <...> for third-party headers"
      continue
    fi
    [[ $target == "$mod" ]] && continue
    ok=0
    for m in $may; do
      [[ $target == "$m" || ${target%%/*} == "$m" ]] && { ok=1; break; }
    done
    if ((!ok)); then
      report "$file" "$line" "#include $delim$path$([[ $delim == '<' ]] && echo '>' || echo '"'): $mod may not depend on $target (allowed: ${may:-nothing but itself}, std, third-party)"
    fi
  done < <(awk '
             match($0, /^[ \t]*#[ \t]*include[ \t]*[<"][^>"]+[>"]/) {
               s = substr($0, RSTART, RLENGTH)
               sub(/^[ \t]*#[ \t]*include[ \t]*/, "", s)
               print FNR ":" substr(s, 1, length(s) - 1)
             }' "$file")
done

# Connectors: no engine insides by name either (an include can come in through pipeline headers).
while IFS=: read -r file line _; do
  report "$file" "$line" "a connector names store::, state:: or rocksdb::: go through engine/pipeline/driver.h"
done < <(find connectors -type f \( -name '*.h' -o -name '*.cc' \) -print0 2>/dev/null \
           | xargs -0 -r grep -nE '(^|[^A-Za-z0-9_:])(store|state|rocksdb)::' 2>/dev/null \
           | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' || true)

# Kafka: librdkafka in connectors/kafka only.
while IFS=: read -r file line _; do
  report "$file" "$line" "librdkafka outside connectors/kafka: use connectors/kafka's headers"
done < <(find engine rules connectors -type f \( -name '*.h' -o -name '*.cc' \) -not -path 'connectors/kafka/*' -print0 2>/dev/null \
           | xargs -0 -r grep -nE '#[[:space:]]*include[[:space:]]*<librdkafka/|RdKafka::|rd_kafka_' 2>/dev/null \
           | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' || true)

if ((violations)); then
  echo "check_includes: $violations include(s) against the layering (see tests/lint/check_includes.sh)" >&2
  exit 1
fi
echo "check_includes: ${#files[@]} files, every include points down the layering"
