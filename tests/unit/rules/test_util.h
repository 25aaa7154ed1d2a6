#pragma once

// Small helpers shared by the rules tests: readable instants and dates in test code.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "engine/core/time.h"
#include "rules/calendar.h"

namespace samordna::rules::testing {

// "2025-03-03T12:00:01+01:00" -> Instant; aborts the test binary on a typo in the test itself.
inline Instant at(std::string_view rfc3339) {
  auto t = parse_rfc3339(rfc3339);
  if (!t) {
    ADD_FAILURE() << "bad instant in test: " << rfc3339;
    return Instant{};
  }
  return t.value();
}

inline LocalDate day(std::string_view iso) {
  auto d = parse_date(iso);
  if (!d) {
    ADD_FAILURE() << "bad date in test: " << iso;
    return LocalDate{};
  }
  return d.value();
}

inline std::filesystem::path source_dir() { return SAMORDNA_SOURCE_DIR; }
inline std::filesystem::path shipped_rules_dir() { return source_dir() / "rules" / "sets"; }
inline std::filesystem::path testdata_dir() {
  return source_dir() / "tests" / "unit" / "rules" / "testdata";
}

}  // namespace samordna::rules::testing
