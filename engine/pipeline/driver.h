#pragma once

// The drive loop every runtime shares: `simulate` (JSON lines, stdout), `run` and `demo` (Kafka,
// exactly once). It decides what the adapters must not decide differently: which inputs are
// events at all, what time it is for each partition, which timers fire before an event and in
// which order, how many inputs a unit of work holds, and what a unit of work commits. An adapter
// only moves bytes: it decodes an input, hands the event to event(), reports the outcome its own
// way (a rejection line, a dead letter), and implements Output for its side of the commit.
//
// A unit of work is one atomic step outside and inside: the adapter's transaction (a Kafka
// transaction with the consumed offsets; nothing for stdout) and one RocksDB write of every
// episode, timer, clock and checkpoint it changed. RocksDB is written only after Output::commit
// succeeded, so the store never runs ahead of what was committed outside.
//
// Clocks, per partition:
// - wall: now is the wall clock; live timers fire in bounded passes between inputs.
// - event time (replay, the simulator): now is the latest recordedAt (occurredAt when absent) of an
//   event the engine applied or recognised as a re-send. A rejected input never moves it (its time
//   may be years off), and the timers an event's time passes fire only once the event is known to
//   be good. The clock is persisted with
//   each unit of work (RocksDB meta, and through Output::commit in the changelog), so a restart or
//   a new machine resumes where the last commit left it.
//
// Not thread-safe: one Driver per Db, used from one thread.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/result.h"
#include "engine/core/time.h"
#include "engine/pipeline/engine.h"
#include "rules/rule_set.h"
#include "samordna/v1/episode_view.pb.h"
#include "samordna/v1/event.pb.h"
#include "samordna/v1/notification.pb.h"
#include "samordna/v1/storage.pb.h"

namespace samordna::pipeline {

enum class ClockMode { kWall, kEventTime };

// The state store as an adapter sees it: opened by the app (engine/app), handed to the driver,
// never looked into.
using StateStore = store::Db;

struct DriverOptions {
  ClockMode clock = ClockMode::kEventTime;
  size_t max_batch = 1000;   // inputs (events, refused records, fired timers) per unit of work
  size_t timer_pass = 1000;  // timers taken off the store per pass
  // A settled or cancelled episode leaves the store this long after it was settled (its timers
  // and state; the changelog gets a tombstone). Zero keeps episodes forever.
  std::chrono::seconds retention{std::chrono::hours{24 * 30}};
  // Hand Output::commit every changed episode's state and storage record (a changelog). Off:
  // Changes::episodes is empty unless `views` (an output without a changelog: the simulator).
  bool changelog = true;
  // Hand Output::commit the public view (samordna.v1.EpisodeView) of every changed episode.
  bool views = false;
  // Called for every timer a unit of work takes off the store, with its fire time (metrics: how
  // late timers fire). Also for the timers of a unit that is later dropped: the adapter's
  // transaction outcome tells it which count.
  std::function<void(PartitionId, Instant fire_at)> on_timer_fired;
  // Write-behind (Engine::write_behind): the store is written only when more than this many
  // episodes are held, at spill(), and (spill_every) when the last write is that long ago. Zero:
  // off, every commit writes the store. Store and checkpoints stay at one committed point, behind
  // the output: an adapter whose output may abort a unit restores from its own log when commit()
  // returns false (everything held since the last write is gone then), as it does after a crash.
  size_t write_behind = 0;
  std::chrono::seconds spill_every{0};
};

// One episode a unit of work changed, as the changelog must record it.
struct EpisodeChange {
  PartitionId partition = 0;
  std::string episode_id;
  const storage::v1::EpisodeState* state = nullptr;  // null: the episode was retired (a tombstone)
  // The state serialized (samordna.storage.v1.EpisodeState), when state is set: the changelog's
  // value, and the same bytes the store gets (serialized once).
  std::string_view record;
  // With DriverOptions::views, when state is set: the episode's view serialized
  // (samordna.v1.EpisodeView), empty otherwise.
  std::string_view view;
};

// What a unit of work changed, for Output::commit. Pointers are valid during the call.
struct Changes {
  std::vector<EpisodeChange> episodes;                  // sorted by partition, episode id
  std::vector<std::pair<PartitionId, Instant>> clocks;  // event-time clocks the unit moved
};

// The adapter's side of a unit of work.
class Output {
 public:
  virtual ~Output() = default;
  // Before the first output of a unit of work (a Kafka transaction begins here).
  virtual Result<void> begin() = 0;
  virtual Result<void> notify(const v1::Notification& n) = 0;
  // Makes the unit of work durable outside, with the input positions it consumed. Returns the
  // changelog position reached per partition (kept as the restore checkpoint), or nullopt when the
  // outside aborted the unit: the driver then drops it and the adapter re-reads its input.
  virtual Result<std::optional<std::map<PartitionId, int64_t>>> commit(const Changes& changes) = 0;
};

struct DriverCounts {
  uint64_t events = 0;   // events handed to event()
  uint64_t applied = 0;  // of those, applied
  uint64_t duplicates = 0;
  uint64_t rejected = 0;  // refused by the engine, plus refused() by the adapter
  uint64_t refused = 0;   // of those, refused() by the adapter (not events at all)
  uint64_t notified = 0;
  uint64_t fired = 0;    // timers taken off the store
  uint64_t retired = 0;  // episodes removed after retention
  uint64_t units = 0;    // units of work committed
  uint64_t spills = 0;   // write-behind: writes of the held episodes to the store
};

class Driver {
 public:
  Driver(StateStore& db, const rules::RuleBook& rules, Output& output, DriverOptions options);

  // Checks the rule book against the episodes in flight (rules_in_use.h: kConflict when a rule
  // set they started under was edited or removed) and loads the timer heads. Call once, and after
  // restoring partitions.
  Result<void> open();
  // Takes partition p on: its event-time clock as last committed. After restore, before inputs.
  Result<void> add_partition(PartitionId p);
  void remove_partition(PartitionId p);

  // One event from partition p. Opens the unit of work (the input's position must commit with
  // it, whatever becomes of the event). Event time: first fires every timer due before the event's
  // time, if the event applies.
  Result<Outcome> event(PartitionId p, const v1::Event& event);
  // An input the adapter could not decode: it is counted in the unit of work (which is opened),
  // and the adapter reports it there (a dead letter).
  Result<void> refused();
  // One bounded pass of p's due timers, never more than the unit of work has room for (live
  // drain; a replay's end with --until). Returns how many timers it took.
  Result<size_t> timer_pass(PartitionId p);
  // Event time: moves p's clock forward to `to` without an event (the end of a replay, --until).
  // Timers then fire in timer_pass().
  void advance_clock(PartitionId p, Instant to);

  Instant now(PartitionId p) const;
  bool overdue(PartitionId p) const;  // a timer of p is due at now(p)
  bool in_unit() const { return in_unit_; }
  bool full() const { return in_unit_ && unit_inputs_ >= options_.max_batch; }
  std::chrono::steady_clock::duration unit_age() const;

  // Commits the open unit of work (nothing when none is open). false: the output aborted it and
  // the driver dropped it (state, timers, clocks and counts are back at the last commit; with
  // write-behind, the store and the engine are at the last spill, and the adapter restores).
  Result<bool> commit();
  // Commits the open unit of work and, with write-behind, writes everything held to the store.
  Result<void> spill();

  // Restoring a partition from a changelog, before add_partition(). Each record replaces the
  // episode's state, retires it (a tombstone), or sets the partition's clock; `next_position` is
  // the changelog position after the record. Written in batches, each with its position;
  // restore_done writes the rest.
  // `record` is the changelog's value: the episode's storage record (kCorruption if it is not).
  Result<void> restore_episode(PartitionId p, std::string_view record, int64_t next_position);
  Result<void> restore_retired(PartitionId p, std::string_view episode_id, int64_t next_position);
  void restore_clock(PartitionId p, Instant clock);
  Result<void> restore_done(PartitionId p, int64_t position);
  // The changelog position the store is level with (0 when never restored or committed).
  Result<int64_t> checkpoint(PartitionId p) const;

  // An episode's state as the store (and the open unit of work) holds it.
  Result<std::optional<storage::v1::EpisodeState>> episode(PartitionId p, std::string_view id);
  // Calls `f` with the public view of every episode of partition p in the store, in id order.
  Result<void> each_view(PartitionId p,
                         const std::function<Result<void>(const v1::EpisodeView&)>& f);

  const DriverCounts& counts() const { return counts_; }
  // RocksDB's estimate of how many episodes and pending timers the store holds; with write-behind
  // the timers are counted exactly (all are in memory).
  std::pair<uint64_t, uint64_t> estimate_size() const;

 private:
  Result<void> begin();
  Result<void> emit(std::vector<v1::Notification>& notifications);
  // Fires up to `limit` due timers of p at now(p) into the unit of work.
  Result<size_t> fire(PartitionId p, size_t limit);
  Result<void> drop_unit();
  void note_spills();  // counts_.spills and last_spill_ from the engine
  Result<void> flush_restore(PartitionId p, int64_t position);
  Result<void> restored(PartitionId p, int64_t next_position);

  store::Db& db_;
  const rules::RuleBook& rules_;
  Engine engine_;
  Output& output_;
  DriverOptions options_;
  store::Txn txn_;
  bool in_unit_ = false;
  size_t unit_inputs_ = 0;
  std::chrono::steady_clock::time_point unit_started_;
  std::map<PartitionId, Instant> clock_;            // event time, as processed
  std::map<PartitionId, Instant> committed_clock_;  // as of the last commit
  DriverCounts counts_, at_begin_;
  size_t restored_since_flush_ = 0;
  std::chrono::steady_clock::time_point last_spill_ = std::chrono::steady_clock::now();
  std::vector<Instant> fire_times_;  // for DriverOptions::on_timer_fired
  // With DriverOptions::views, the views of a commit, serialized; kept for the next, whose views
  // are written into the same strings.
  std::vector<std::string> views_;
};

}  // namespace samordna::pipeline
