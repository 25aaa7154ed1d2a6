#pragma once

// The pipeline: takes one input (an event, or a timer the store found due), loads the episode,
// steps the state machine, and puts the new state and the timer changes into a transaction
// (store::Txn) that the caller writes in one atomic write. The simulator writes one transaction
// per input; the Kafka service one per Kafka transaction, after that commits, so RocksDB never
// runs ahead of the committed input. Reads go through the transaction, so later inputs see earlier
// ones. Both drive this class; they differ in where `now` comes from and where notifications go.
//
// Not thread-safe: one Engine per partition group, used from one thread.

#include <absl/container/flat_hash_set.h>
#include <absl/container/node_hash_map.h>
#include <absl/hash/hash.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/core/result.h"
#include "engine/core/time.h"
#include "engine/state/episode_machine.h"
#include "engine/state/state_size.h"
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
  bool applied() const { return kind == Kind::kApplied; }
  // For an adapter's report of a rejection: "malformed", "unknown_episode", ...
  const char* code() const { return rejection ? state::code_name(rejection->code) : ""; }
  Kind kind = Kind::kApplied;
  std::optional<state::Rejection> rejection;  // set when kRejected
  std::vector<v1::Notification> notifications;
};

// The largest episode state the pipeline stores: a changelog record must fit a Kafka message
// (1 MiB by default, with room for the record's overhead). An event that would make a state larger
// is rejected (`state_too_large`) instead of blocking its partition.
inline constexpr size_t kMaxStateBytes = size_t{900} * 1024;

class Engine {
 public:
  // `retention`: how long a settled or cancelled episode stays; zero keeps it forever.
  Engine(store::Db& db, const rules::RuleBook& rules,
         std::chrono::seconds retention = std::chrono::seconds{0});

  // Loads the timer heads (write-behind: every pending timer, once; a later open() keeps them).
  // Call once before use, and again after dropping a transaction.
  Result<void> open();

  // Write-behind, for input that can be read again: episode states and timers stay in memory
  // across units of work, and write() puts what changed into the store only when more than
  // `max_episodes` episodes are held, or after spill(); then it keeps half that many held. Until a
  // spill the store does not change at all (the units' other writes, the clocks and checkpoints,
  // wait in the transaction), so it always holds one consistent point of the input: a replay
  // (`simulate --no-wal`) runs again from its file, the Kafka service restores from its changelog.
  // A state is written once per spill, not once per unit, and a held one is neither read nor
  // parsed from RocksDB. A unit of work is dropped only with everything held (drop_held(); open()
  // stops while changes are held). `list_changes`: keep each unit's changed episodes for
  // changes() (a changelog); a replay that prints notifications only leaves it off. Call before
  // open().
  void write_behind(size_t max_episodes, bool list_changes = true);
  // Makes the next write() put everything held into the store.
  void spill() { spill_ = true; }
  // Write-behind: forgets every held state and timer, and every change since the last spill (the
  // open unit's and the committed ones' alike), and loads the timers again: the engine is then at
  // the store's point, the last spill. For an adapter whose output aborted a unit of work: it
  // brings the store level again from its own log (the Kafka service: from the changelog).
  Result<void> drop_held();

  // Applies one event at `now`. A rejection is an outcome, not an error: errors are I/O failures.
  Result<Outcome> apply(PartitionId partition, const v1::Event& event, Instant now,
                        store::Txn& txn);
  // What apply() would do, without staging anything. Unless the event is rejected, the step is
  // kept: the apply() of the same event object at the same `now`, which must be the next apply(),
  // takes it instead of stepping again, unless a fired timer changed the episode in between (the
  // state machine is pure, so the kept step is the one apply would make).
  Result<Outcome> check(PartitionId partition, const v1::Event& event, Instant now);

  // Fires up to `limit` timers of the partition due at `now` and appends what they emit to `out`.
  // Returns how many timers were taken off the store; with `fire_times`, appends each one's fire
  // time there (how late timers fire, for metrics).
  Result<size_t> fire_due(PartitionId partition, Instant now, size_t limit,
                          std::vector<v1::Notification>& out, store::Txn& txn,
                          std::vector<Instant>* fire_times = nullptr);

  // Takes an episode's state as recorded elsewhere (a changelog) and mirrors its timers.
  Result<void> restore(PartitionId partition, const storage::v1::EpisodeState& state,
                       store::Txn& txn);
  // Removes an episode and its timers (retention; a changelog tombstone).
  Result<void> retire(PartitionId partition, std::string_view episode_id, store::Txn& txn);

  // Puts the staged episode states into the transaction (each once, however often it was staged),
  // writes it to the store and empties it. Until then the states live in staged(), which every
  // read of this engine consults first.
  Result<void> write(store::Txn& txn);

  std::optional<Instant> next_due(PartitionId partition) const {
    return timers_.next_due(partition);
  }
  // Write-behind: every pending timer is held, so their number is exact; nullopt otherwise.
  std::optional<size_t> timers_held() const {
    return write_behind_ > 0 ? std::optional<size_t>(timers_.held()) : std::nullopt;
  }

  Result<std::optional<storage::v1::EpisodeState>> episode(PartitionId partition,
                                                           std::string_view id,
                                                           store::Txn* txn = nullptr) const;

  // One episode the open unit of work changed, with its new state (null: retired).
  struct Change {
    PartitionId partition = 0;
    std::string_view episode_id;
    const storage::v1::EpisodeState* state = nullptr;
  };
  // The episodes the open unit changed, sorted by partition and id, each once: what a changelog
  // must record (none with write-behind without `list_changes`). Valid until the next input or
  // write(); emptied by write() and open().
  std::vector<Change> changes() const;

  using EpisodeKey = std::pair<PartitionId, std::string>;
  struct KeyLess {                // looks up by (partition, string_view) without building a key
    using is_transparent = void;  // NOLINT(readability-identifier-naming): the standard name
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      if (a.first != b.first) return a.first < b.first;
      return std::string_view(a.second) < std::string_view(b.second);
    }
  };
  // A changed state serialized as its storage record (what the changelog carries), once: write()
  // puts the same bytes rather than serializing the state again. Valid until the episode is
  // staged again, or write() or open().
  const std::string& record(PartitionId partition, std::string_view id);
  size_t retired() const { return retired_; }  // episodes retired since construction
  size_t spills() const { return spills_; }    // write-behind: spills since construction

  store::Db& db() { return db_; }

 private:
  // What stage() needs of the old state: the timers it holds, which are exactly those the store
  // has pending for the episode. Taken before a step that may consume the old state.
  using TimerSet = std::map<uint8_t, int64_t>;  // packed kind -> fire_at
  struct Held {
    TimerSet timers;
    std::optional<int64_t> retire_at;  // the retention timer
    timers::TimerStore::Pending retention() const;
  };
  static void add_timer(TimerSet& timers, const storage::v1::TimerRecord& t);
  static TimerSet timers_of(const storage::v1::EpisodeState* state);
  static Held held_by(const storage::v1::EpisodeState* state);
  // The same, read from a stored record without parsing the rest of it (notices, deadlines, ...).
  static Result<Held> held_by_record(std::string_view record);

  // Puts the new state and the difference between the old and new timer sets into the transaction.
  // `now` is absent when restoring: a restored state keeps the retire_at it was recorded with.
  // `bytes`: next's serialized size, when the caller computed it (write-behind keeps it).
  Result<void> stage(PartitionId partition, const Held& old, storage::v1::EpisodeState& next,
                     std::optional<Instant> now, store::Txn& txn, size_t bytes = kUnknownBytes);
  // The event's step from `old`, consuming it when it is `holder`'s (read for this step only).
  state::StepResult step_event(const storage::v1::EpisodeState* old,
                               std::optional<storage::v1::EpisodeState>& holder,
                               const v1::Event& event, Instant now) const;
  // step_event, on the held state itself when `may_lend` and lend() lends it: then `lent` is the
  // slot the applied step consumed; a refused or duplicate event's state is back in it, and `lent`
  // null.
  state::StepResult step_lending(PartitionId partition, const v1::Event& event, Instant now,
                                 const storage::v1::EpisodeState* old,
                                 std::optional<storage::v1::EpisodeState>& holder, bool may_lend,
                                 std::optional<storage::v1::EpisodeState>*& lent);
  // The episode's state without a copy: the staged state itself (with write-behind, the held one),
  // or the stored one read into `holder`; null when there is none. The pointer is good until the
  // episode is staged again (stage() reads it before it moves the new state into the same slot).
  Result<const storage::v1::EpisodeState*> peek(PartitionId partition, std::string_view id,
                                                std::optional<storage::v1::EpisodeState>& holder);
  void forget_record(PartitionId partition, std::string_view id);
  // Without write-behind, the states the open unit staged (nullopt: retired), read before the
  // store.
  using Staged = std::map<EpisodeKey, std::optional<storage::v1::EpisodeState>, KeyLess>;
  // What the open transaction holds for an episode: its staged state (nullopt = retired), or
  // nothing when the transaction has not touched it. Read before the store, which would find the
  // same state in the transaction's batch, only slower (an index lookup and a parse).
  const std::optional<storage::v1::EpisodeState>* staged_state(PartitionId partition,
                                                               std::string_view id) const;
  // Write-behind: what the cache holds for an episode, reading it from the store on a miss.
  Result<const storage::v1::EpisodeState*> peek_cached(PartitionId partition, std::string_view id);
  // Holds `next` (moved from; null: retired) as the episode's state.
  void put_cached(PartitionId partition, std::string_view id, storage::v1::EpisodeState* next,
                  size_t bytes);
  // Write-behind: a bound on `next`'s serialized size, when this process built it from validated
  // events (state::SizeBound); kUnknownBytes for one read from the store, or without write-behind.
  size_t bound_of(PartitionId partition, const storage::v1::EpisodeState& next);
  // Write-behind: puts every changed episode into the batch (a retired one as a delete).
  void write_cache(rocksdb::WriteBatch& batch);
  // Write-behind, after a spill: drops held states until half the budget is held.
  void evict();
  // Write-behind: lends the held state `old` points to into `holder` for a step that builds the
  // next state in its storage (no copy), and returns its slot; the caller gives it back when the
  // step did not take it (a rejection, a duplicate, a stale timer). Null when not held.
  // With `small_only`, only a state no single event can take past kMaxStateBytes.
  std::optional<storage::v1::EpisodeState>* lend(PartitionId partition, std::string_view id,
                                                 const storage::v1::EpisodeState*& old,
                                                 std::optional<storage::v1::EpisodeState>& holder,
                                                 bool small_only);

  struct Probe {  // check()'s step, for apply() to take
    PartitionId partition = 0;
    const v1::Event* event = nullptr;  // identity only: never read after check() returns
    std::string episode_id;
    Instant now;
    Held held;  // of the state the step was taken from
    state::StepResult step = state::Rejection{};
    // Write-behind: the held slot whose state the step consumed (an applied step only). Such a
    // probe must be taken by its apply(): dropped, the episode's state would be lost.
    std::optional<storage::v1::EpisodeState>* lent = nullptr;
  };
  // Every probe_.reset() but apply()'s taking: stops on a probe holding a lent state.
  void drop_probe();

  store::Db& db_;
  store::EpisodeStore episodes_;
  timers::TimerStore timers_;
  const rules::RuleBook& rules_;
  const state::SizeBound size_bound_;
  std::chrono::seconds retention_;
  Staged staged_;
  std::map<EpisodeKey, std::string, KeyLess> records_;  // record()'s, of staged states
  std::optional<Probe> probe_;
  size_t retired_ = 0;

  // Write-behind (write_behind()): the episodes held. A retired one the store has is held as
  // nullopt until the spill deletes it; one the store never had is just dropped.
  static constexpr size_t kUnknownBytes = SIZE_MAX;
  struct Cached {
    std::optional<storage::v1::EpisodeState> state;
    bool in_store = false;  // the store holds a record of it (read from there, or spilled)
    bool dirty = false;     // changed since it was read or spilled
    // At least the state's serialized size before stage() set or cleared retire_at: exact, or its
    // bound (state_size.h); kUnknownBytes when neither was worked out.
    size_t bytes = kUnknownBytes;
    size_t touched = 0;  // spills_ when an input last read or changed it
    // Read from the store (or built on a state that was): it may hold what SizeBound does not
    // bound, so it is measured exactly.
    bool parsed = false;
    // A settled episode (closed or cancelled) is held serialized, as its record, from the end of
    // the unit that settled it: most wait only for their retention timer, and retiring one then
    // reads its timers from these bytes (held_by_record) and frees one string. Freeing the parsed
    // state, cold by then (weeks of event time later), was a tenth of a replay's CPU. An input for
    // it parses it again (peek). At most one of `state` and `packed` is set; neither: retired.
    std::string packed{};
  };
  struct KeyHash {
    using is_transparent = void;  // NOLINT(readability-identifier-naming): the standard name
    template <class K>
    size_t operator()(const K& k) const {
      return absl::Hash<std::pair<PartitionId, std::string_view>>()(
          {k.first, std::string_view(k.second)});
    }
  };
  struct KeyEq {
    using is_transparent = void;  // NOLINT(readability-identifier-naming): the standard name
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return a.first == b.first && std::string_view(a.second) == std::string_view(b.second);
    }
  };
  // Abseil's node map: open addressing over the nodes (a lookup reads a group of control bytes and
  // the node, where std::unordered_map reads the bucket, the node before and the node: a year's
  // held episodes are cold memory), and every element keeps its address (lent slots, peeked_).
  using CacheMap = absl::node_hash_map<EpisodeKey, Cached, KeyHash, KeyEq>;
  CacheMap cache_;
  // The episodes the open unit changed (changes(), which sorts them). A retired one may have left
  // cache_ (the store never had it), and is still named here: the changelog had its state, and
  // needs a tombstone. A hash set: every step asks it, a tree's inserts and compares were 2 % of
  // `run`'s main thread.
  absl::flat_hash_set<EpisodeKey, KeyHash, KeyEq> unit_;
  // The entry peek() found last: a step reads, lends and puts back one episode, so the one lookup
  // serves all three. Nodes stay where they are as the map grows; erasing one clears this.
  CacheMap::value_type* peeked_ = nullptr;
  // The episodes the open unit left settled, packed by write() (Cached::packed).
  std::vector<EpisodeKey> settled_;
  void pack_settled();
  Cached* held_slot(PartitionId partition, std::string_view id);
  size_t write_behind_ = 0;     // the most episodes held before a spill; 0: off
  bool list_changes_ = true;    // write-behind: keep unit_ for changes()
  bool timers_loaded_ = false;  // the timer store was loaded, and nothing dropped since
  void forget_held();           // the held states, probe and unit; not the timers
  Result<void> load_timers();
  size_t spills_ = 0;
  bool spill_ = false;
};

// The timer store keys a timer by one byte: the timer kind in the high nibble, the deadline kind in
// the low one.
uint8_t pack_timer_kind(storage::v1::TimerKind kind, v1::DeadlineKind deadline);
state::TimerFired unpack_timer(uint8_t packed, Instant fire_at);

}  // namespace samordna::pipeline
