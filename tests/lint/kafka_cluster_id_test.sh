#!/usr/bin/env bash
# deploy/kafka/kafka.sh's cluster_id must never give an id that kafka-storage reads as an option
# (a leading '-'), and must give Kafka's Uuid form: 22 base64url characters. One draw in 64 of
# the plain base64url encoding starts with '-', so 2,000 draws of the unfixed function fail this
# with near certainty (1 - (63/64)^2000).
#
#   bash tests/lint/kafka_cluster_id_test.sh [REPO_ROOT]
set -euo pipefail

root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
script="$root/deploy/kafka/kafka.sh"
definition="$(sed -n '/^cluster_id() {/,/^}/p' "$script")"
[[ -n $definition ]] || { echo "FAIL: no cluster_id() in $script"; exit 1; }
eval "$definition"

for ((i = 0; i < 2000; i++)); do
  id="$(cluster_id)"
  if [[ ! $id =~ ^[A-Za-z0-9_][A-Za-z0-9_-]{21}$ ]]; then
    echo "FAIL: draw $i gave '$id'"
    exit 1
  fi
done
echo "ok: 2000 cluster ids, none starting with '-', each 22 base64url characters"
