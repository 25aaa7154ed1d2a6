#include "connectors/deliver/retry.h"

#include <gtest/gtest.h>

namespace samordna::deliver {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using V = Decision::Verdict;

AttemptOutcome status(int s, std::optional<seconds> retry_after = std::nullopt) {
  return {s, retry_after};
}

TEST(DeliverRetry, VerdictByStatus) {
  const RetryPolicy p;
  EXPECT_EQ(decide(p, 1, seconds{0}, status(200), 0.5).verdict, V::kDelivered);
  EXPECT_EQ(decide(p, 1, seconds{0}, status(204), 0.5).verdict, V::kDelivered);
  EXPECT_EQ(decide(p, 1, seconds{0}, status(410), 0.5).verdict, V::kDisableEndpoint);
  for (int s : {400, 401, 403, 404, 409, 413, 422}) {
    const auto d = decide(p, 1, seconds{0}, status(s), 0.5);
    EXPECT_EQ(d.verdict, V::kDeadLetter) << s;
    EXPECT_EQ(d.code, "rejected");
  }
  for (int s : {408, 429, 500, 502, 503, 504, 301, 302, 100}) {
    EXPECT_EQ(decide(p, 1, seconds{0}, status(s), 0.5).verdict, V::kRetry) << s;
  }
  EXPECT_EQ(decide(p, 1, seconds{0}, AttemptOutcome{}, 0.5).verdict, V::kRetry);  // no answer
}

TEST(DeliverRetry, ExponentialBackoffCappedAndJittered) {
  const RetryPolicy p;
  EXPECT_EQ(backoff(p, 1), seconds{5});
  EXPECT_EQ(backoff(p, 2), seconds{15});
  EXPECT_EQ(backoff(p, 3), seconds{45});
  EXPECT_EQ(backoff(p, 9), seconds{32805});
  EXPECT_EQ(backoff(p, 10), hours{12});
  EXPECT_EQ(backoff(p, 50), hours{12});
  // random 0.5 is no jitter; 0 and ~1 the ends of +-20%.
  EXPECT_EQ(decide(p, 3, seconds{0}, status(503), 0.5).delay, seconds{45});
  EXPECT_EQ(decide(p, 3, seconds{0}, status(503), 0.0).delay, seconds{36});
  EXPECT_EQ(decide(p, 3, seconds{0}, status(503), 0.999999).delay, seconds{54});
}

TEST(DeliverRetry, RetryAfterIsHonouredUpToTheCap) {
  const RetryPolicy p;
  EXPECT_EQ(decide(p, 1, seconds{0}, status(429, seconds{120}), 0.5).delay, seconds{120});
  EXPECT_EQ(decide(p, 1, seconds{0}, status(503, seconds{1}), 0.5).delay, seconds{5});  // backoff
  EXPECT_EQ(decide(p, 1, seconds{0}, status(429, hours{100}), 0.5).delay, hours{12});
}

TEST(DeliverRetry, TheScheduleSpansAboutThreeDaysThenIsExhausted) {
  const RetryPolicy p;
  seconds elapsed{0};
  int attempts = 0;
  while (true) {
    ++attempts;
    const auto d = decide(p, attempts, elapsed, AttemptOutcome{}, 0.5);
    if (d.verdict != V::kRetry) {
      EXPECT_EQ(d.verdict, V::kDeadLetter);
      EXPECT_EQ(d.code, "exhausted");
      break;
    }
    elapsed += d.delay;
    ASSERT_LT(attempts, 100);
  }
  EXPECT_EQ(attempts, 14);
  EXPECT_GT(elapsed, hours{60});
  EXPECT_LE(elapsed, hours{72});
}

TEST(DeliverRetry, ParseRetryAfter) {
  const int64_t now = 1445412480;  // 2015-10-21T07:28:00Z
  EXPECT_EQ(parse_retry_after("120", now), seconds{120});
  EXPECT_EQ(parse_retry_after(" 0 ", now), seconds{0});
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now), seconds{120});
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), seconds{0});  // past
  EXPECT_EQ(parse_retry_after("", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("-5", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("12s", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT junk", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("tomorrow", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:30:0x GMT", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 7:30:00 GMT", now), std::nullopt);
  EXPECT_EQ(parse_retry_after("Wed, 21 Xyz 2015 07:30:00 GMT", now), std::nullopt);
  // Found by fuzz_webhook: a malformed seconds field made the date parser convert a NaN (UBSan).
  EXPECT_EQ(parse_retry_after(std::string_view("Wed, 21 Oct 403 07:28:\x10"), now), std::nullopt);
}

}  // namespace
}  // namespace samordna::deliver
