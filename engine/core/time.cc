#include "engine/core/time.h"

#include <date/date.h>

namespace samordna {

bool valid_timestamp(const google::protobuf::Timestamp& ts) {
  return ts.seconds() >= kMinTimestampSeconds && ts.seconds() <= kMaxTimestampSeconds &&
         ts.nanos() >= 0 && ts.nanos() <= 999'999'999;
}

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

namespace {

// Digits at text[at, at + n) as a number, or -1.
int digits(std::string_view text, size_t at, size_t n) {
  if (at + n > text.size()) return -1;
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

}  // namespace

// Our own reader, not TimeUtil::FromString: that one aborts the process (a protobuf CHECK) on an
// instant its offset takes outside the Timestamp range, e.g. 9999-12-31T23:59:59-23:59.
// Accepts what it accepted: YYYY-MM-DDTHH:MM:SS, an optional fraction of 1 to 9 digits, then Z
// or +HH:MM / -HH:MM.
Result<Instant> parse_rfc3339(std::string_view text) {
  auto bad = [] { return fail(Errc::kInvalidArgument, "not an RFC 3339 timestamp"); };
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':') {
    return bad();
  }
  const int y = digits(text, 0, 4), mo = digits(text, 5, 2), d = digits(text, 8, 2);
  const int h = digits(text, 11, 2), mi = digits(text, 14, 2), sec = digits(text, 17, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) {
    return bad();
  }
  const date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(mo)},
                                 date::day{static_cast<unsigned>(d)}};
  if (y == 0 || !ymd.ok()) return bad();
  size_t at = 19;
  if (text[at] == '.') {
    const size_t start = ++at;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') ++at;
    if (at == start || at - start > 9) return bad();  // floored below: the digits do not matter
  }
  int64_t offset = 0;
  if (at + 1 == text.size() && text[at] == 'Z') {
    ++at;
  } else if (at + 6 == text.size() && (text[at] == '+' || text[at] == '-') && text[at + 3] == ':') {
    const int oh = digits(text, at + 1, 2), om = digits(text, at + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return bad();
    offset = (text[at] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    at += 6;
  }
  if (at != text.size()) return bad();
  const int64_t local = std::chrono::sys_seconds{date::sys_days{ymd}}.time_since_epoch().count() +
                        h * 3600 + mi * 60 + sec;
  google::protobuf::Timestamp ts;
  ts.set_seconds(local - offset);
  // The digits are checked above; the offset can still take the instant past year 9999
  // (9999-12-31T23:59:59-23:59) or before year 1.
  if (!valid_timestamp(ts)) {
    return fail(Errc::kInvalidArgument, "not an instant in the years 0001 to 9999 (UTC)");
  }
  return from_proto(ts);
}

}  // namespace samordna
