#include "engine/core/time.h"

#include <date/date.h>
#include <google/protobuf/util/time_util.h>

namespace samordna {

Instant from_proto(const google::protobuf::Timestamp& ts) {
  // Timestamp.nanos is always non-negative, so truncating the seconds field floors the instant.
  return from_unix(ts.seconds());
}

google::protobuf::Timestamp to_proto(Instant t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(to_unix(t));
  return ts;
}

std::string format_utc(Instant t) { return date::format("%FT%TZ", t); }

Result<Instant> parse_rfc3339(std::string_view text) {
  google::protobuf::Timestamp ts;
  if (!google::protobuf::util::TimeUtil::FromString(std::string(text), &ts)) {
    return fail(Errc::kInvalidArgument, "not an RFC 3339 timestamp");
  }
  return from_proto(ts);
}

}  // namespace samordna
