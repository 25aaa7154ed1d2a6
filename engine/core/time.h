#pragma once

// Time in the engine: an Instant is a UTC point in time to the second. Deadlines are defined to the
// second (docs/domain-decisions.md), so event timestamps are floored to whole seconds on the way
// in. Local (Europe/Stockholm) calendar arithmetic lives in rules/calendar.h.

#include <google/protobuf/timestamp.pb.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/core/result.h"

namespace samordna {

using Instant = std::chrono::sys_seconds;

inline Instant from_unix(int64_t seconds) { return Instant{std::chrono::seconds{seconds}}; }
inline int64_t to_unix(Instant t) { return t.time_since_epoch().count(); }

// The range of google.protobuf.Timestamp (and of RFC 3339): 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59Z. An instant outside it cannot be printed as JSON again, so every reader
// refuses it (parse_rfc3339, JsonCodec::parse, state::validate_event for binary input).
inline constexpr int64_t kMinTimestampSeconds = -62135596800;
inline constexpr int64_t kMaxTimestampSeconds = 253402300799;
// seconds in range and nanos in [0, 999999999].
bool valid_timestamp(const google::protobuf::Timestamp& ts);

// Floors sub-second precision: an event at 12:00:00.900 counts as 12:00:00.
Instant from_proto(const google::protobuf::Timestamp& ts);
google::protobuf::Timestamp to_proto(Instant t);

// RFC 3339 in UTC with a Z suffix, e.g. "2025-03-03T08:00:00Z".
std::string format_utc(Instant t);
// Accepts RFC 3339 with Z or a numeric offset, fractional seconds floored.
Result<Instant> parse_rfc3339(std::string_view text);

// Where time comes from. The simulator advances a ManualClock; the service reads the system clock.
// Nothing in engine/state reads a clock: it is handed `now`.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Instant now() const override {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(Instant start = Instant{}) : now_(start) {}
  Instant now() const override { return now_; }
  void set(Instant t) { now_ = t; }

 private:
  Instant now_;
};

}  // namespace samordna
