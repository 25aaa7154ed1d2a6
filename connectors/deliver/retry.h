#pragma once

// What `samordna deliver` does after each attempt to deliver a notification to an endpoint: done,
// try again later (when), dead-letter it, or disable the endpoint. Pure: the attempt's outcome, the
// attempt count, the time since the first attempt and a random number in, a decision out; the
// caller owns the clock and the randomness (connectors/deliver/README.md has the schedule).
//
//   2xx                      delivered
//   410 Gone                 the endpoint is disabled (the receiver said it is gone for good);
//                            its pending notifications stay in the outbox until it is enabled again
//   other 4xx but 408, 429   dead letter (samordna.delivery.deadletter): the request is wrong for
//                            this receiver and will not become right by repeating it
//   408, 429, 5xx, 1xx, 3xx, retry with exponential backoff and jitter; a Retry-After is honoured
//   no answer (timeout,      (never sooner than it says, but at most the backoff cap); after about
//   refused, dropped, TLS)   three days of attempts the delivery is exhausted: dead letter
//
// Redirects are not followed: a webhook URL is configured, and following a redirect would send
// signed patient data to an address nobody configured.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace samordna::deliver {

struct RetryPolicy {
  std::chrono::seconds first_delay{5};  // after the first failed attempt
  double factor = 3;                    // each delay this much longer than the one before
  std::chrono::seconds max_delay{std::chrono::hours{12}};
  // No attempt is scheduled later than this after the first one: then it is exhausted.
  std::chrono::seconds give_up_after{std::chrono::hours{72}};
  // Each delay is multiplied by a factor drawn from [1 - jitter, 1 + jitter], so the endpoints a
  // failure hit at once do not all come back at once.
  double jitter = 0.2;
};

// One attempt, as the HTTP client saw it.
struct AttemptOutcome {
  std::optional<int> status;  // none: no HTTP answer (timeout, connection refused or dropped, TLS)
  std::optional<std::chrono::seconds> retry_after;  // the parsed Retry-After header, if any
};

struct Decision {
  enum class Verdict { kDelivered, kRetry, kDeadLetter, kDisableEndpoint };
  Verdict verdict = Verdict::kDelivered;
  std::chrono::seconds delay{0};  // kRetry: from now to the next attempt
  // kDeadLetter: a stable code for the dead letter's header and metrics: "rejected" (a 4xx) or
  // "exhausted".
  std::string code;
};

// `attempts`: attempts made so far, this one included (>= 1). `since_first`: from the first
// attempt to this one's end. `random`: uniform in [0, 1).
Decision decide(const RetryPolicy& policy, int attempts, std::chrono::seconds since_first,
                const AttemptOutcome& outcome, double random);

// The backoff after `attempts` failed attempts, without jitter: first_delay * factor^(attempts-1),
// at most max_delay.
std::chrono::seconds backoff(const RetryPolicy& policy, int attempts);

// A Retry-After value: delay-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT",
// the IMF-fixdate form), relative to `now` (unix seconds); a date in the past is 0. nullopt when it
// is neither.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, int64_t now);

}  // namespace samordna::deliver
