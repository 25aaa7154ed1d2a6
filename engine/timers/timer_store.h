#pragma once

// The durable timer store: every pending deadline and reminder of every episode, ordered by fire
// time in their own column family. There is no index by key: a caller cancels or reschedules a
// timer by naming its pending fire time, which the engine takes from the episode state (it holds
// exactly the timers the store has pending: both are written in one batch). Only the head (the
// earliest fire time per partition) is held in memory, so resident memory does not grow with the
// number of pending timers. Firing is done in bounded passes: due() returns at most `limit` timers,
// so a backlog of millions of overdue timers never stalls event processing.
//
// Not thread-safe: owned by the pipeline of its partitions, used from one thread.

#include <absl/container/btree_map.h>
#include <absl/container/btree_set.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/result.h"
#include "engine/core/time.h"
#include "engine/store/db.h"

namespace samordna::timers {

using store::PartitionId;

struct TimerKey {
  PartitionId partition = 0;
  std::string episode_id;
  uint8_t kind = 0;  // the caller's timer kind; the pipeline packs (TimerKind, DeadlineKind)

  friend bool operator==(const TimerKey&, const TimerKey&) = default;
};

struct DueTimer {
  TimerKey key;
  Instant fire_at;
};

class TimerStore {
 public:
  explicit TimerStore(store::Db& db);

  // Reads the head of each partition present in the store. Call once after opening.
  Result<void> load();

  // Memory mode, for the engine's write-behind (a replay): load() reads every pending timer into
  // memory, schedule() and cancel() change only that (not the transaction), due() reads it, and
  // spill() puts into a batch what changed since load() or the last spill. Call before load().
  void keep_in_memory() { memory_ = true; }
  // Memory mode: something changed since load() or the last spill.
  bool changed() const { return unstored_ > 0 || !gone_.empty(); }
  // Memory mode: how many timers are pending, exactly (the store has them at the next spill).
  size_t held() const { return index_.size(); }
  void spill(rocksdb::WriteBatch& batch);

  // The key's pending fire time, if it has a timer. The caller knows it (the engine: from the
  // episode's state before the step). Builds without NDEBUG (the sanitizer build, in which CI runs
  // the unit and scenario tests) read the timer it names and stop if the store has no such timer.
  struct Pending {
    std::optional<Instant> at;
  };

  // Adds the timer, replacing the key's pending one. Writes go into `txn`, so one transaction may
  // schedule, fire and reschedule the same key. The head moves back at once: it stays a lower bound
  // even if the transaction is dropped.
  Result<void> schedule(store::Txn& txn, const TimerKey& key, Instant fire_at, Pending pending);
  // Removes the key's pending timer, if any.
  Result<void> cancel(store::Txn& txn, const TimerKey& key, Pending pending);

  // The earliest fire time that may be pending in the partition, if any. A lower bound: exact after
  // load() and after a due() pass that handed out everything up to its `now` (it reads one key
  // further); a timer cancelled since keeps it until the next pass.
  std::optional<Instant> next_due(PartitionId partition) const;
  // Up to `limit` timers of the partition with fire_at <= now, earliest first, read through `txn`.
  // Does not remove them: the caller cancels each in the transaction that applies it. Hands each
  // out once: a later call starts after them, unless load() or a schedule() at or before their
  // fire time moves the head back. Pass the transaction holding timers scheduled but not written
  // yet, or they are stepped over; after dropping a transaction, call load() again.
  Result<std::vector<DueTimer>> due(PartitionId partition, Instant now, size_t limit,
                                    store::Txn* txn = nullptr);

  // Drops every timer of a partition (handed to another instance).
  Result<void> drop_partition(PartitionId partition);

 private:
  // Without NDEBUG: stops unless the store (through `txn`) holds the timer `pending` names.
  Result<void> verify(const TimerKey& key, store::Txn& txn, Pending pending) const;
  // Memory mode: takes a timer off, or adds one.
  void forget(std::string key);
  void remember(std::string key);

  store::Db& db_;
  std::map<PartitionId, Instant> head_;
  // Per partition, the key of the last timer due() handed out at the head's second: the next pass
  // starts after it, so a backlog within one second (day-based deadlines all fire at local
  // midnight) is read once, not once per pass.
  std::map<PartitionId, std::string> resume_after_;

  bool memory_ = false;
  // Memory mode: every pending timer's key -> in the store. Abseil's B-tree keeps keys in order
  // as std::map does, several to a node: a lookup over a year's held timers (millions) reads a
  // few nodes rather than a red-black path of twenty-odd cold ones. No iterator outlives a change.
  absl::btree_map<std::string, bool> index_;
  absl::btree_set<std::string> gone_;  // memory mode: keys in the store, cancelled since
  size_t unstored_ = 0;                // memory mode: keys in index_ not in the store
};

}  // namespace samordna::timers
