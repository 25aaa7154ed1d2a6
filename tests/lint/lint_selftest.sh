#!/usr/bin/env bash
# Proves the lint checkers can fail: each runs on a small fixture tree written to a temp folder,
# once clean (must pass) and once with known violations (must fail and name each file:line).
#
#   bash tests/lint/lint_selftest.sh includes|logs
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

fails=0
expect() {  # description, condition result (0 = holds)
  if [[ $2 == 0 ]]; then echo "ok:   $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi
}
put() {  # path, content
  mkdir -p "$(dirname "$1")"
  printf '%s\n' "$2" >"$1"
}
run() {  # checker, tree → sets out, rc
  set +e
  out="$(bash "$here/$1" "$2" 2>&1)"
  rc=$?
  set -e
  printf '%s\n' "$out" | sed 's/^/    | /'
}
has() { grep -qF -- "$1" <<<"$out"; }

case "${1:-}" in
  includes)
    good="$tmp/good"
    put "$good/engine/core/result.h" $'#pragma once\n#include <string>\n#include <boost/outcome.hpp>'
    put "$good/rules/rule_set.h" $'#pragma once\n#include "engine/core/result.h"\n#include "samordna/v1/event.pb.h"'
    put "$good/engine/state/machine.cc" $'#include "engine/state/machine.h"\n#include "rules/rule_set.h"'
    put "$good/engine/timers/timer_store.h" $'#include "engine/store/db.h"\n#include "engine/core/time.h"'
    put "$good/engine/pipeline/engine.cc" $'#include "engine/timers/timer_store.h"\n#include "engine/state/machine.h"'
    put "$good/engine/app/main.cc" $'#include "engine/pipeline/engine.h"\n#include "connectors/kafka/source.h"'
    put "$good/connectors/kafka/source.cc" $'#include "connectors/kafka/source.h"\n#include "engine/pipeline/engine.h"\n#include <librdkafka/rdkafkacpp.h>'
    run check_includes.sh "$good"
    expect "a tree that follows the layering passes" "$rc"

    bad="$tmp/bad"
    cp -r "$good" "$bad"
    put "$bad/engine/core/time.cc" $'#include "engine/core/time.h"\n\n#include "engine/store/db.h"'
    put "$bad/rules/deadlines.cc" $'#include "rules/deadlines.h"\n#include "engine/state/machine.h"'
    put "$bad/engine/store/db.cc" $'#include "engine/store/db.h"\n  #  include <engine/timers/timer_store.h>'
    put "$bad/engine/timers/timer_store.cc" $'#include "timer_store.h"'
    put "$bad/engine/state/bad.cc" $'#include "tests/support/fake_clock.h"'
    put "$bad/connectors/http/api.cc" $'#include "connectors/kafka/source.h"'
    put "$bad/engine/metrics/metrics.cc" $'#include <vector>'
    put "$bad/connectors/kafka/leak.cc" $'#include "connectors/kafka/source.h"\nvoid f(store::Db& db);\n  // state:: in a comment is no use'
    put "$bad/engine/app/consume.cc" $'#include "engine/pipeline/engine.h"\n#include <librdkafka/rdkafkacpp.h>\nvoid g(RdKafka::Message& m);'
    run check_includes.sh "$bad"
    [[ $rc != 0 ]]; expect "a tree with bad includes fails" $?
    has 'engine/core/time.cc:3: #include "engine/store/db.h": core may not depend on store'; expect "core → store reported with file:line" $?
    has 'rules/deadlines.cc:2: #include "engine/state/machine.h": rules may not depend on state'; expect "rules → state reported" $?
    has 'engine/store/db.cc:2: #include <engine/timers/timer_store.h>: store may not depend on timers'; expect "angle-bracket and spaced project include reported" $?
    has 'engine/timers/timer_store.cc:1: #include "timer_store.h": quoted includes'; expect "include not rooted at the repo root reported" $?
    has 'engine/state/bad.cc:1: #include "tests/support/fake_clock.h": state may not depend on tests'; expect "production → tests reported" $?
    has 'connectors/http/api.cc:1: #include "connectors/kafka/source.h": connectors/http may not depend on connectors/kafka'; expect "connector → other connector reported" $?
    has 'engine/metrics/metrics.cc:1: file is in no module'; expect "a folder missing from the table reported" $?
    has 'connectors/kafka/leak.cc:2: a connector names store::'; expect "engine insides named in a connector reported" $?
    has 'engine/app/consume.cc:2: librdkafka outside connectors/kafka'; expect "librdkafka included outside connectors/kafka reported" $?
    has 'engine/app/consume.cc:3: librdkafka outside connectors/kafka'; expect "RdKafka:: named outside connectors/kafka reported" $?
    n="$(grep -c '^[a-z].*:[0-9]*: ' <<<"$out" || true)"
    [[ $n == 10 ]]; expect "exactly the 10 planted violations reported (got $n)" $?
    ;;

  logs)
    good="$tmp/good"
    put "$good/engine/pipeline/engine.cc" '
void f(const Event& e, const RuleSet& rs) {
  spdlog::info("admitted episode {} (name and address withheld)", e.episode_id());
  logger_->warn("rule set {} loaded", rs.name());  // log-pii-ok: a rule set name, not a person
  spdlog::debug("personal_id field {}",
                "is validated");
  auto name = e.admitted().patient().name();  // not a log call
}'
    run check_log_personal_data.sh "$good"
    expect "clean log statements pass (string literals and waivers ignored)" "$rc"

    bad="$tmp/bad"
    cp -r "$good" "$bad"
    put "$bad/engine/pipeline/bad.cc" '
void g(const Event& e, const Patient& p) {
  spdlog::info("id {}", p.personal_id());
  SPDLOG_WARN("who {}", p.name());
  log_.error("episode {} at {}",
             e.episode_id(),
             p.address());
  spdlog::debug("event {}", e.ShortDebugString());
  std::cerr << "patient " << e.admitted().patient().home_municipality() << "\n";
}'
    run check_log_personal_data.sh "$bad"
    [[ $rc != 0 ]]; expect "log statements with personal data fail" $?
    has 'engine/pipeline/bad.cc:3: log statement mentions personal_id'; expect "personal_id reported with file:line" $?
    has 'engine/pipeline/bad.cc:4: log statement mentions name()/address()'; expect "SPDLOG_WARN with name() reported" $?
    has 'engine/pipeline/bad.cc:5: log statement mentions name()/address()'; expect "multi-line call with address() reported at its first line" $?
    has 'engine/pipeline/bad.cc:8: log statement mentions a whole-message dump'; expect "DebugString reported" $?
    has 'engine/pipeline/bad.cc:9: log statement mentions patient'; expect "std::cerr with patient() reported" $?
    n="$(grep -c '^engine/.*:[0-9]*: log statement' <<<"$out" || true)"
    [[ $n == 5 ]]; expect "exactly the 5 planted violations reported (got $n)" $?
    ;;

  *)
    echo "usage: $0 includes|logs" >&2
    exit 2
    ;;
esac

if ((fails)); then
  echo "lint_selftest $1: $fails expectation(s) failed" >&2
  exit 1
fi
echo "lint_selftest $1: all expectations hold"
