#!/usr/bin/env bash
# Installs everything samordna needs to build, test and run, from Debian 12 packages only.
#
# Idempotent: when every package is already installed this is a no-op that costs one dpkg-query
# call (well under a second) and never touches the network. `apt-get update` runs only when
# something is missing. Runs as root; otherwise through sudo when sudo exists.
#
#   bash deploy/install-deps.sh           install what is missing
#   bash deploy/install-deps.sh --check   list what is missing; exit 1 if anything is, 0 if not
#   bash deploy/install-deps.sh --bench   also the benchmarks' tools (not needed to build or test)
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# The build, test and tooling set. Keep it sorted by role, one package per library we link.
packages=(
  build-essential cmake ninja-build pkg-config
  librdkafka-dev
  libprotobuf-dev protobuf-compiler
  libboost-dev
  librocksdb-dev rocksdb-tools
  libjemalloc-dev     # the samordna binary's allocator (CMakeLists.txt: SAMORDNA_JEMALLOC)
  libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsimdjson-dev     # the JSON codec's fast path (engine/core/json_fast.h)
  libabsl-dev         # the write-behind's table of held episodes (engine/pipeline/engine.h)
  nlohmann-json3-dev libcli11-dev libhowardhinnant-date-dev libyaml-cpp-dev
  libssl-dev openssl  # TLS; the openssl tool makes the HTTP tests' throw-away CA
  curl                # the independent HTTP client of the FHIR listener's tests
  libsqlite3-dev libjwt-dev  # samordna serve: the read model (SQLite) and bearer JWTs (connectors/serve)
  python3 python3-hl7 python3-venv  # hl7 listener tests (mllp_send); the OpenAPI validator's venv
  tzdata
  clang-format clang-tidy
  clang-14 libclang-rt-14-dev  # libFuzzer (tests/fuzz/): clang 14 and its runtime
  prometheus          # promtool and a real Prometheus scraping `run` (tests/integration/metrics/)
  chromium fonts-dejavu-core  # the web app's browser test (tests/integration/web/); its npm packages: deploy/install-web-test-deps.sh
)
# The Kafka broker used by the integration tests runs on a JVM: take the machine's java when it
# has one, otherwise Debian's default headless JRE. Maven only when there is no mvn at all.
command -v java >/dev/null 2>&1 || packages+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || packages+=(maven)
# node and npm for the web app's browser test: Debian's unless the machine already has a node (a
# newer one from another source must not be replaced by Debian's nodejs).
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
# HAPI HL7v2, the independent MLLP sender of tests/integration/hl7/hapi_test.sh, is compiled with javac.
command -v javac >/dev/null 2>&1 || packages+=(default-jdk-headless)
# The benchmarks only (tests/bench/run_serve_bench.sh): wrk, the HTTP load client.
if [[ ${1:-} == --bench ]]; then
  packages+=(wrk)
  shift
fi

# One dpkg-query for the whole list. Unknown packages print nothing on stdout (an error on
# stderr), so anything not reported as "ii" below counts as missing.
installed="$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${packages[@]}" 2>/dev/null \
  | awk '$2 == "ii" { sub(/:.*/, "", $1); print $1 }' || true)"
missing=()
for p in "${packages[@]}"; do
  grep -qxF -- "$p" <<<"$installed" || missing+=("$p")
done

if [[ ${1:-} == --check ]]; then
  if ((${#missing[@]})); then
    printf 'missing: %s\n' "${missing[*]}"
    exit 1
  fi
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

as_root=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo --preserve-env=DEBIAN_FRONTEND)
  else
    echo "install-deps: not root and no sudo; as root, install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
