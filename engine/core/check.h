#pragma once

// Always-on invariant checks: a broken invariant is a bug, and a bug must stop the process before
// it writes wrong state, also in release builds.

namespace samordna::detail {
[[noreturn]] void check_failed(const char* expr, const char* file, int line, const char* why);
}  // namespace samordna::detail

#define SAMORDNA_CHECK(cond, why)                                                  \
  do {                                                                             \
    if (!(cond)) ::samordna::detail::check_failed(#cond, __FILE__, __LINE__, why); \
  } while (false)
