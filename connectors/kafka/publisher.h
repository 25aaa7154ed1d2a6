#pragma once

// Publisher: sends samordna.v1.Event records to the events topic and tells each caller when its
// events are durable on the broker, or why not, within a bound the caller sets.
//
// Every input of samordna goes through one: `samordna produce`, `samordna demo`, and the coming
// HL7 v2 (MLLP), FHIR and HTTP listeners, each of which acknowledges its sender only once the
// event is durable. Records are binary protobuf, key = episodeId, sent by an idempotent producer
// with acks=all and Java's partitioner (client.h): "durable" means written to every in-sync
// replica, in order per episode, never duplicated by librdkafka's own retries.
//
// Threads. One Publisher serves many callers at once: publish() may be called from any thread.
// The publisher owns one poll thread that serves librdkafka's delivery reports and the deadlines;
// each caller's callback runs there, once per batch, so it must be quick and must not block on
// this publisher (no publish_and_wait() inside it; hand the outcome to your own thread instead).
// publish_and_wait() is the blocking convenience for a caller that has a thread to spare.
//
// A batch is acknowledged together: the callback fires once every event of the batch is durable,
// or at the deadline, whichever comes first, with each event's own result (partition and offset,
// or its error).
//
// A timeout is honest: kTimedOut means "not confirmed within your bound", not "not written". The
// record stays with librdkafka, which keeps retrying until message.timeout.ms (5 minutes unless
// the properties say otherwise), so it may still arrive later. Delivery is at-least-once: a caller
// that re-sends after a timeout may write the event twice, and that is safe, because the engine
// drops a repeated event by (source, eventId) before it changes anything. A kFailed event was
// refused for good (too large, no such topic, not authorised, the producer fenced): re-sending the
// same bytes will not help.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/kafka/client.h"
#include "connectors/kafka/config.h"
#include "engine/core/result.h"
#include "samordna/v1/event.pb.h"

namespace samordna::kafka {

// One event's result, in the order the events were given.
struct EventReceipt {
  bool durable = false;
  int32_t partition = -1;  // where it was written, when durable
  int64_t offset = -1;
  std::optional<Error> error;  // why not, when not durable
};

struct PublishOutcome {
  enum class Status {
    kDurable,   // every event of the batch is durable
    kFailed,    // at least one event was refused for good (see its receipt); others may be durable
    kTimedOut,  // the bound passed before every event was confirmed; they may still arrive
  };
  Status status = Status::kDurable;
  std::vector<EventReceipt> events;
  std::optional<Error> error;  // the first failure or the timeout; empty when kDurable

  bool durable() const { return status == Status::kDurable; }
  size_t durable_count() const;
};

const char* publish_status_name(PublishOutcome::Status s);  // "durable", "failed", "timed_out"

class Publisher {
 public:
  using Clock = std::chrono::steady_clock;
  using Callback = std::function<void(PublishOutcome)>;

  // A publisher to `topic` with samordna's idempotent producer (client.h) and `extra` librdkafka
  // properties on top (e.g. message.timeout.ms, TLS). Fails only on a bad configuration: it does
  // not wait for the broker (an unreachable one shows as timeouts).
  static Result<std::unique_ptr<Publisher>> create(const KafkaConfig& config, std::string topic,
                                                   const Properties& extra = {});

  // Answers every batch still open with kTimedOut ("publisher closed") and stops the poll thread.
  // Call close() first to give them a chance.
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Sends `events` and calls `done` exactly once, on the poll thread: when every event is durable,
  // when one is refused and the rest are answered, or at `deadline`. Returns at once, unless
  // librdkafka's queue is full: then it waits for room, at most until `deadline`. An empty batch is
  // answered kDurable at once (on the caller's thread). After close() or a fatal producer error
  // every batch is answered kFailed at once.
  void publish(std::vector<v1::Event> events, Clock::time_point deadline, Callback done);

  // publish() and wait for the answer, which comes within `bound` (plus the poll interval).
  PublishOutcome publish_and_wait(std::vector<v1::Event> events, std::chrono::milliseconds bound);

  // Stops taking batches and waits up to `bound` for the open ones to be answered (each by its
  // own deadline at the latest). Idempotent.
  void close(std::chrono::milliseconds bound);

  // Batches published and not yet answered.
  size_t open_batches() const;

  const std::string& topic() const;

  struct Impl;

 private:
  explicit Publisher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace samordna::kafka
