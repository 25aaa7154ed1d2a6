#include "connectors/deliver/retry.h"

#include <date/date.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

namespace samordna::deliver {

std::chrono::seconds backoff(const RetryPolicy& policy, int attempts) {
  const double first = static_cast<double>(policy.first_delay.count());
  const double cap = static_cast<double>(policy.max_delay.count());
  const double d = first * std::pow(policy.factor, std::max(0, attempts - 1));
  return std::chrono::seconds(static_cast<int64_t>(std::min(d, cap)));
}

Decision decide(const RetryPolicy& policy, int attempts, std::chrono::seconds since_first,
                const AttemptOutcome& outcome, double random) {
  using V = Decision::Verdict;
  if (outcome.status) {
    const int s = *outcome.status;
    if (s >= 200 && s < 300) return {V::kDelivered, {}, {}};
    if (s == 410) return {V::kDisableEndpoint, {}, {}};
    if (s >= 400 && s < 500 && s != 408 && s != 429) return {V::kDeadLetter, {}, "rejected"};
  }
  const double j = 1 + policy.jitter * (2 * random - 1);
  auto delay = std::chrono::seconds(static_cast<int64_t>(
      std::llround(static_cast<double>(backoff(policy, attempts).count()) * j)));
  if (outcome.retry_after)
    delay = std::max(delay, std::min(*outcome.retry_after, policy.max_delay));
  delay = std::max(delay, std::chrono::seconds{1});
  if (since_first + delay > policy.give_up_after) return {V::kDeadLetter, {}, "exhausted"};
  return {V::kRetry, delay, {}};
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, int64_t now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (value.front() >= '0' && value.front() <= '9') {
    int64_t seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
    return std::chrono::seconds(seconds);
  }
  // IMF-fixdate (RFC 9110 5.6.7), "Sun, 06 Nov 1994 08:49:37 GMT", through Howard Hinnant's date
  // parser. Its shape is checked first: date 3.0's %S turns a malformed seconds field into a NaN it
  // then converts to an integer (undefined behaviour; found by tests/fuzz/fuzz_webhook).
  constexpr std::string_view kShape = "Aaa, 00 Aaa 0000 00:00:00 GMT";
  if (value.size() != kShape.size()) return std::nullopt;
  for (size_t i = 0; i < kShape.size(); ++i) {
    const char c = value[i];
    const bool ok = kShape[i] == '0'   ? (c >= '0' && c <= '9')
                    : kShape[i] == 'A' ? (c >= 'A' && c <= 'Z')
                    : kShape[i] == 'a' ? (c >= 'a' && c <= 'z')
                                       : c == kShape[i];
    if (!ok) return std::nullopt;
  }
  std::istringstream in{std::string(value)};
  in.imbue(std::locale::classic());
  date::sys_seconds at;
  in >> date::parse("%a, %d %b %Y %H:%M:%S GMT", at);
  if (in.fail() || in.peek() != std::char_traits<char>::eof()) return std::nullopt;
  const int64_t diff = at.time_since_epoch().count() - now;
  return std::chrono::seconds(std::max<int64_t>(0, diff));
}

}  // namespace samordna::deliver
