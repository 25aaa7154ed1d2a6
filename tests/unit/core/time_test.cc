#include "engine/core/time.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace samordna {
namespace {

using std::chrono::seconds;

google::protobuf::Timestamp ts(int64_t secs, int32_t nanos) {
  google::protobuf::Timestamp t;
  t.set_seconds(secs);
  t.set_nanos(nanos);
  return t;
}

TEST(Time, FromProtoFloorsToTheSecond) {
  EXPECT_EQ(from_proto(ts(1741000000, 0)), from_unix(1741000000));
  EXPECT_EQ(from_proto(ts(1741000000, 900'000'000)), from_unix(1741000000));
  EXPECT_EQ(from_proto(ts(1741000000, 999'999'999)), from_unix(1741000000));
  // Before the epoch: -0.5 s is seconds = -1, nanos = 5e8; floored it is -1, not 0.
  EXPECT_EQ(from_proto(ts(-1, 500'000'000)), from_unix(-1));
}

TEST(Time, ProtoRoundTrip) {
  const Instant t = from_unix(1741000000);
  const auto p = to_proto(t);
  EXPECT_EQ(p.seconds(), 1741000000);
  EXPECT_EQ(p.nanos(), 0);
  EXPECT_EQ(from_proto(p), t);
}

TEST(Time, FormatUtc) {
  EXPECT_EQ(format_utc(from_unix(0)), "1970-01-01T00:00:00Z");
  // 2025-03-03T08:00:00Z, the example of event.proto.
  EXPECT_EQ(format_utc(from_unix(1740988800)), "2025-03-03T08:00:00Z");
  EXPECT_EQ(format_utc(from_unix(1740988800 - 1)), "2025-03-03T07:59:59Z");
  EXPECT_EQ(format_utc(from_unix(951782400)), "2000-02-29T00:00:00Z");
}

TEST(Time, ParseRfc3339Utc) {
  auto r = parse_rfc3339("2025-03-03T08:00:00Z");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r.value(), from_unix(1740988800));
  EXPECT_EQ(format_utc(r.value()), "2025-03-03T08:00:00Z");
}

TEST(Time, ParseRfc3339WithOffset) {
  // Swedish winter time (+01:00) and summer time (+02:00) name the same UTC instant.
  auto winter = parse_rfc3339("2025-03-03T09:00:00+01:00");
  ASSERT_TRUE(winter.has_value()) << winter.error().message;
  EXPECT_EQ(winter.value(), from_unix(1740988800));
  auto summer = parse_rfc3339("2025-07-01T14:00:00+02:00");
  ASSERT_TRUE(summer.has_value()) << summer.error().message;
  EXPECT_EQ(format_utc(summer.value()), "2025-07-01T12:00:00Z");
  auto west = parse_rfc3339("2025-03-03T03:00:00-05:00");
  ASSERT_TRUE(west.has_value()) << west.error().message;
  EXPECT_EQ(west.value(), from_unix(1740988800));
}

TEST(Time, ParseRfc3339FloorsFractions) {
  for (const char* text : {"2025-03-03T08:00:00.1Z", "2025-03-03T08:00:00.900Z",
                           "2025-03-03T08:00:00.999999999Z", "2025-03-03T09:00:00.5+01:00"}) {
    auto r = parse_rfc3339(text);
    ASSERT_TRUE(r.has_value()) << text << ": " << r.error().message;
    EXPECT_EQ(r.value(), from_unix(1740988800)) << text;
  }
  auto before_epoch = parse_rfc3339("1969-12-31T23:59:59.5Z");
  ASSERT_TRUE(before_epoch.has_value());
  EXPECT_EQ(before_epoch.value(), from_unix(-1));
}

TEST(Time, ParseRfc3339RejectsGarbage) {
  for (const char* text :
       {"", "garbage", "2025-03-03", "2025-03-03 08:00:00Z", "2025-03-03T08:00:00",
        "2025-13-03T08:00:00Z", "2025-02-30T08:00:00Z", "2025-03-03T25:00:00Z",
        "2025-03-03T08:00:00+0100", "2025-03-03T08:00:00Zjunk", "1741000000"}) {
    auto r = parse_rfc3339(text);
    EXPECT_FALSE(r.has_value()) << '"' << text << "\" was accepted as "
                                << (r.has_value() ? format_utc(r.value()) : std::string());
    if (!r.has_value()) {
      EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    }
  }
}

// A Timestamp holds 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z: an instant outside that range
// cannot be printed again (protobuf's JSON writer gives up mid-line), so it is refused on the way
// in, whatever its offset.
TEST(Time, ParseRfc3339RejectsInstantsOutsideYears1To9999) {
  for (const char* text : {"9999-12-31T23:59:59-23:59", "9999-12-31T23:00:00-01:00",
                           "0001-01-01T00:00:00+00:01", "0001-01-01T00:59:59+01:00"}) {
    auto r = parse_rfc3339(text);
    EXPECT_FALSE(r.has_value()) << '"' << text << "\" was accepted";
  }
  EXPECT_TRUE(parse_rfc3339("9999-12-31T23:59:59Z").has_value());
  EXPECT_TRUE(parse_rfc3339("9999-12-31T23:59:59+01:00").has_value());
  EXPECT_TRUE(parse_rfc3339("0001-01-01T00:00:00Z").has_value());
  EXPECT_TRUE(parse_rfc3339("0001-01-01T00:00:00-01:00").has_value());
}

TEST(Time, ValidTimestampRange) {
  EXPECT_TRUE(valid_timestamp(ts(kMinTimestampSeconds, 0)));
  EXPECT_TRUE(valid_timestamp(ts(kMaxTimestampSeconds, 999'999'999)));
  EXPECT_FALSE(valid_timestamp(ts(kMaxTimestampSeconds + 1, 0)));
  EXPECT_FALSE(valid_timestamp(ts(kMinTimestampSeconds - 1, 0)));
  EXPECT_FALSE(valid_timestamp(ts(0, -1)));
  EXPECT_FALSE(valid_timestamp(ts(0, 1'000'000'000)));
}

TEST(Time, ManualClockIsSetByHand) {
  ManualClock clock(from_unix(100));
  EXPECT_EQ(clock.now(), from_unix(100));
  clock.set(from_unix(200));
  EXPECT_EQ(clock.now(), from_unix(200));
}

}  // namespace
}  // namespace samordna
