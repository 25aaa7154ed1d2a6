#pragma once

// The delivery scheduler of `samordna deliver`: per endpoint a queue per episode and a few worker
// threads that take the head of a queue when it is due, render it (json or fhir), sign it, POST
// it, and act on retry.h's decision. connectors/deliver/README.md, "Schedule".
//
// - Order: only the head (lowest offset) of each (endpoint, episode) queue is eligible, and only
//   one attempt per episode is in flight; the next waits until the head is delivered or
//   dead-lettered.
// - Isolation: each endpoint has its own threads, queues and client; a slow or dead endpoint
//   holds up only itself.
// - Durability: every change is written to the Outbox port before it is acted on elsewhere; a
//   dead letter is confirmed by the Reporter before the entry leaves the pending set.
//
// The scheduler never reads Kafka and never names RocksDB: engine/app hands it the entries it
// stored (enqueue) and adapts the outbox and the reporter (ports below).
//
// Thread-safe: enqueue, disable/enable and depths from any thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "connectors/deliver/config.h"
#include "connectors/deliver/https_client.h"
#include "connectors/deliver/retry.h"
#include "engine/core/result.h"
#include "samordna/v1/delivery.pb.h"

namespace samordna::deliver {

// Where the scheduler keeps its durable changes (engine/store/outbox.h behind an adapter).
class Outbox {
 public:
  virtual ~Outbox() = default;
  virtual Result<void> update(const v1::OutboxEntry& entry) = 0;  // after a failed attempt
  virtual Result<void> remove(const v1::OutboxEntry& entry) = 0;  // delivered
  virtual Result<void> bury(const v1::OutboxEntry& entry) = 0;    // dead-lettered
  virtual Result<void> set_disabled(const std::string& endpoint, bool disabled) = 0;
};

// Where outcomes go: the status and dead-letter topics and the metrics (engine/app).
class Reporter {
 public:
  virtual ~Reporter() = default;
  // Every change of a delivery's status (best effort: the status topic is a view).
  virtual void status(const v1::DeliveryStatus& status) = 0;
  // A dead letter, confirmed: the entry is buried only after this succeeds.
  virtual Result<void> dead_letter(const v1::DeliveryStatus& status,
                                   const v1::Notification& notification) = 0;
  // One attempt's outcome ("delivered", "retry", "dead_letter", "disabled") and duration.
  virtual void attempted(const std::string& endpoint, const std::string& outcome,
                         double seconds) = 0;
  // Delivered: from the notification's commit (its Kafka timestamp) to now.
  virtual void delivered(const std::string& endpoint, double commit_to_delivery_seconds) = 0;
};

// One POST; an HttpsClient in production, a fake in the unit tests. One per worker thread.
class Poster {
 public:
  virtual ~Poster() = default;
  virtual PostResult post(const Endpoint& endpoint,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          const std::string& body, int64_t now_unix) = 0;
};
using PosterFactory = std::function<Result<std::unique_ptr<Poster>>(const EndpointConfig&)>;
// The production factory: an HttpsClient with the endpoint's client options.
PosterFactory https_poster_factory();

struct SchedulerOptions {
  RetryPolicy retry;
  // Unix seconds now (the wall clock in production).
  std::function<int64_t()> now = nullptr;
  // After the reporter could not confirm a dead letter (the broker is down): try again in.
  std::chrono::seconds dead_letter_retry{5};
};

class Scheduler {
 public:
  // Starts the workers of every endpoint; `disabled` endpoints start disabled. `outbox` and
  // `reporter` must outlive the scheduler.
  static Result<std::unique_ptr<Scheduler>> start(const std::vector<EndpointConfig>& endpoints,
                                                  const std::set<std::string>& disabled,
                                                  Outbox& outbox, Reporter& reporter,
                                                  const PosterFactory& posters,
                                                  SchedulerOptions options);
  ~Scheduler();  // stops the workers; an attempt in flight finishes first (bounded by timeouts)
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Entries already stored in the outbox; each goes to its endpoint's queue in (partition,
  // offset) order. An entry for an endpoint not configured (renamed, removed) is ignored and
  // counted in the return value: it stays in the outbox.
  size_t enqueue(std::vector<v1::OutboxEntry> entries);
  // 410 disables (the scheduler itself); an operator enables again (`deliver replay --enable`).
  Result<void> enable(const std::string& endpoint);

  // Pending entries per endpoint (for the queue-depth gauge), and whether an endpoint is disabled.
  std::map<std::string, size_t> depths() const;
  bool disabled(const std::string& endpoint) const;
  // Set when the outbox failed (a full disk): the scheduler stopped; the service exits.
  std::optional<Error> failure() const;

 private:
  struct Queue;
  Scheduler() = default;
  void work(Queue& q, Poster& poster);
  void attempt(Queue& q, Poster& poster, v1::OutboxEntry& entry,
               std::unique_lock<std::mutex>& lock);
  void set_failure(const Error& e);

  Outbox* outbox_ = nullptr;
  Reporter* reporter_ = nullptr;
  SchedulerOptions options_;
  std::map<std::string, std::unique_ptr<Queue>> queues_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex failure_mu_;
  std::optional<Error> failure_;
};

// The body of `entry` for `config`'s format, or nullopt ("unprintable"); public for the tests.
std::optional<std::string> render_body(const EndpointConfig& config,
                                       const v1::Notification& notification);

}  // namespace samordna::deliver
