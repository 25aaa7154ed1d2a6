#pragma once

// The pipeline: takes one input (an event, or a timer the store found due), loads the episode,
// steps the state machine, and commits the new state and the timer changes in one atomic write.
// Notifications are handed back only after the write succeeded. The simulator and the Kafka
// service both drive this class; they differ only in where `now` comes from and where
// notifications go.
//
// Not thread-safe: one Engine per partition group, used from one thread.

#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

#include "engine/core/result.h"
#include "engine/core/time.h"
#include "engine/state/episode_machine.h"
#include "engine/store/db.h"
#include "engine/store/episode_store.h"
#include "engine/timers/timer_store.h"
#include "rules/rule_set.h"
#include "samordna/v1/event.pb.h"
#include "samordna/v1/notification.pb.h"

namespace samordna::pipeline {

using store::PartitionId;

struct Outcome {
  enum class Kind { kApplied, kDuplicate, kRejected };
  Kind kind = Kind::kApplied;
  std::optional<state::Rejection> rejection;  // set when kRejected
  std::vector<v1::Notification> notifications;
};

// Lets the service add its own records (input offsets, outbox) to the write that commits an input.
using BatchHook = std::function<void(rocksdb::WriteBatch&)>;

class Engine {
 public:
  Engine(store::Db& db, const rules::RuleBook& rules);

  // Loads the timer heads. Call once before use.
  Result<void> open();

  // Applies one event at `now`. A rejection is an outcome, not an error: errors are I/O failures.
  Result<Outcome> apply(PartitionId partition, const v1::Event& event, Instant now,
                        const BatchHook& hook = {});

  // Fires up to `limit` timers of the partition due at `now`, each in its own atomic write, and
  // appends what they emit to `out`. Returns how many timers were taken off the store.
  Result<size_t> fire_due(PartitionId partition, Instant now, size_t limit,
                          std::vector<v1::Notification>& out, const BatchHook& hook = {});

  // Fires every timer due at `now` in passes of `pass_size` (the simulator's clock advance).
  Result<size_t> fire_all_due(PartitionId partition, Instant now, std::vector<v1::Notification>& out,
                              size_t pass_size = 1024);

  std::optional<Instant> next_due(PartitionId partition) const { return timers_.next_due(partition); }

  Result<std::optional<v1::EpisodeState>> episode(PartitionId partition, std::string_view id) const {
    return episodes_.get(partition, id);
  }

 private:
  // Writes the new state and the difference between the old and new timer sets in one batch.
  Result<void> commit(PartitionId partition, const v1::EpisodeState* old, const v1::EpisodeState& next,
                      const std::optional<timers::TimerKey>& fired_stale, const BatchHook& hook);

  store::Db& db_;
  store::EpisodeStore episodes_;
  timers::TimerStore timers_;
  const rules::RuleBook& rules_;
};

// The timer store keys a timer by one byte: the timer kind in the high nibble, the deadline kind in
// the low one.
uint8_t pack_timer_kind(v1::TimerKind kind, v1::DeadlineKind deadline);
state::TimerFired unpack_timer(uint8_t packed, Instant fire_at);

}  // namespace samordna::pipeline
