#include "engine/core/check.h"

#include <cstdio>
#include <cstdlib>

namespace samordna::detail {

void check_failed(const char* expr, const char* file, int line, const char* why) {
  std::fprintf(stderr, "samordna: invariant broken at %s:%d: %s (%s)\n", file, line, why, expr);
  std::fflush(stderr);
  std::abort();
}

}  // namespace samordna::detail
