#include "engine/core/result.h"

namespace samordna {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument:
      return "invalid_argument";
    case Errc::kNotFound:
      return "not_found";
    case Errc::kConflict:
      return "conflict";
    case Errc::kRejected:
      return "rejected";
    case Errc::kIo:
      return "io";
    case Errc::kCorruption:
      return "corruption";
    case Errc::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

}  // namespace samordna
