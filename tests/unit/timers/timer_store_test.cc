#include "engine/timers/timer_store.h"

#include <gtest/gtest.h>
#include <rocksdb/table_properties.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "engine/store/episode_store.h"
#include "tests/unit/store/store_backends.h"

namespace samordna::timers {
namespace {

using store::Family;
using store::testing::StoreBackendNames;
using store::testing::StoreBackends;
using namespace std::chrono_literals;

constexpr PartitionId kLastPartition = std::numeric_limits<PartitionId>::max();

TimerKey key(PartitionId partition, std::string episode, uint8_t kind = 1) {
  return TimerKey{partition, std::move(episode), kind};
}

// What due() returned, as "episode@unix" strings: failures print readably.
std::vector<std::string> names(const std::vector<DueTimer>& due) {
  std::vector<std::string> out;
  for (const auto& t : due)
    out.push_back(t.key.episode_id + "@" + std::to_string(to_unix(t.fire_at)));
  return out;
}

// The timer store in memory mode (TimerStore::keep_in_memory, the engine's write-behind) on a disk
// store: what the fixture writes is first spilled into the batch.
struct Held : store::testing::OnDisk {
  static constexpr bool kHeld = true;
};
template <class B>
constexpr bool kHeld = requires {
  B::kHeld;
};

using TimerBackends = ::testing::Types<store::testing::OnDisk, store::testing::InMemory, Held>;
struct TimerBackendNames {
  template <class T>
  static std::string GetName(int i) {
    return kHeld<T> ? "Held" : StoreBackendNames::GetName<T>(i);
  }
};

template <class Backend>
class TimerStoreContract : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(open()); }

  void open() {
    auto opened = backend_.open();
    ASSERT_TRUE(opened) << opened.error().message;
    db_ = std::move(opened.value());
    ASSERT_NO_FATAL_FAILURE(load());
  }
  void load() {
    timers_ = std::make_unique<TimerStore>(*db_);
    if constexpr (kHeld<Backend>) timers_->keep_in_memory();
    auto loaded = timers_->load();
    ASSERT_TRUE(loaded) << loaded.error().message;
  }

  // Closes and reopens the store when it lives on disk; an in-memory store cannot outlive its Db,
  // so there only the TimerStore starts afresh. Either way the heads come from load().
  void restart() {
    timers_.reset();
    if (Backend::kSurvivesReopen) {
      db_.reset();
      ASSERT_NO_FATAL_FAILURE(open());
      return;
    }
    ASSERT_NO_FATAL_FAILURE(load());
  }

  // The caller's side of the contract: the pending fire time of each key, as the engine's episode
  // states know it, passed with each schedule and cancel. Updated as a transaction is built.
  TimerStore::Pending pending(const TimerKey& k) const {
    auto it = pending_.find(id(k));
    return {it == pending_.end() ? std::nullopt : std::optional<Instant>(it->second)};
  }
  Result<void> schedule_in(store::Txn& txn, const TimerKey& k, Instant at) {
    auto done = timers_->schedule(txn, k, at, pending(k));
    if (done) pending_[id(k)] = at;
    return done;
  }
  Result<void> cancel_in(store::Txn& txn, const TimerKey& k) {
    auto done = timers_->cancel(txn, k, pending(k));
    if (done) pending_.erase(id(k));
    return done;
  }
  // A dropped transaction or partition: its keys have no timer.
  void forget(PartitionId partition) {
    std::erase_if(pending_,
                  [&](const auto& entry) { return std::get<0>(entry.first) == partition; });
  }

  // Schedules in one batch, writes it, reports the fire times as committed.
  void schedule(const std::vector<std::pair<TimerKey, int64_t>>& timers) {
    store::Txn batch;
    for (const auto& [k, at] : timers) {
      auto scheduled = schedule_in(batch, k, from_unix(at));
      ASSERT_TRUE(scheduled) << scheduled.error().message;
    }
    write(batch);
  }

  void cancel(const std::vector<TimerKey>& keys) {
    store::Txn batch;
    for (const auto& k : keys) {
      auto cancelled = cancel_in(batch, k);
      ASSERT_TRUE(cancelled) << cancelled.error().message;
    }
    write(batch);
  }

  void write(store::Txn& batch) {
    if constexpr (kHeld<Backend>) timers_->spill(*batch.batch().GetWriteBatch());
    auto written = db_->write(batch);
    ASSERT_TRUE(written) << written.error().message;
  }

  std::vector<DueTimer> due(PartitionId partition, int64_t now, size_t limit = 1000) {
    auto got = timers_->due(partition, from_unix(now), limit);
    EXPECT_TRUE(got) << got.error().message;
    return got ? got.value() : std::vector<DueTimer>{};
  }

  // Fires everything due at `now` the way the pipeline does: a pass, then cancel what it returned.
  std::vector<std::string> fire_all(PartitionId partition, int64_t now, size_t limit) {
    std::vector<std::string> fired;
    while (true) {
      auto pass = due(partition, now, limit);
      std::vector<TimerKey> keys;
      for (const auto& t : pass) keys.push_back(t.key);
      cancel(keys);
      for (auto& n : names(pass)) fired.push_back(std::move(n));
      if (pass.size() < limit) return fired;
    }
  }

  std::optional<int64_t> next_due(PartitionId partition) const {
    auto head = timers_->next_due(partition);
    return head ? std::optional<int64_t>(to_unix(*head)) : std::nullopt;
  }

  Backend backend_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<TimerStore> timers_;
  std::map<std::tuple<PartitionId, std::string, uint8_t>, Instant> pending_;

 private:
  static std::tuple<PartitionId, std::string, uint8_t> id(const TimerKey& k) {
    return {k.partition, k.episode_id, k.kind};
  }
};

TYPED_TEST_SUITE(TimerStoreContract, TimerBackends, TimerBackendNames);

TYPED_TEST(TimerStoreContract, EmptyStoreHasNothingDue) {
  EXPECT_FALSE(this->next_due(0).has_value());
  EXPECT_TRUE(this->due(0, 2'000'000'000).empty());
}

TYPED_TEST(TimerStoreContract, DueReturnsScheduledTimersEarliestFirst) {
  this->schedule({{key(0, "c"), 300}, {key(0, "a"), 100}, {key(0, "b"), 200}});
  EXPECT_EQ(this->next_due(0), 100);
  auto due = this->due(0, 1000);
  EXPECT_EQ(names(due), (std::vector<std::string>{"a@100", "b@200", "c@300"}));
  ASSERT_EQ(due.size(), 3u);
  EXPECT_EQ(due[0].key, key(0, "a"));
}

TYPED_TEST(TimerStoreContract, CancelRemovesThePendingTimer) {
  this->schedule({{key(0, "a"), 100}, {key(0, "b"), 200}});
  this->cancel({key(0, "a")});
  EXPECT_EQ(names(this->due(0, 1000)), (std::vector<std::string>{"b@200"}));
}

TYPED_TEST(TimerStoreContract, CancelWithoutPendingTimerIsANoOp) {
  this->schedule({{key(0, "a"), 100}});
  this->cancel({key(0, "never"), key(0, "a", 2)});
  EXPECT_EQ(names(this->due(0, 1000)), (std::vector<std::string>{"a@100"}));
}

TYPED_TEST(TimerStoreContract, KindsOfOneEpisodeAreSeparateTimers) {
  this->schedule({{key(0, "a", 1), 100}, {key(0, "a", 2), 100}, {key(0, "a", 3), 50}});
  this->cancel({key(0, "a", 1)});
  auto due = this->due(0, 1000);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].key, key(0, "a", 3));
  EXPECT_EQ(due[1].key, key(0, "a", 2));
}

TYPED_TEST(TimerStoreContract, RescheduleReplacesThePendingTimer) {
  this->schedule({{key(0, "a"), 100}});
  this->schedule({{key(0, "a"), 500}});
  EXPECT_TRUE(this->due(0, 499).empty()) << "the old fire time is gone";
  EXPECT_EQ(names(this->due(0, 500)), (std::vector<std::string>{"a@500"}));

  // Earlier again, and back to a time it had before: still one timer.
  this->schedule({{key(0, "b"), 900}});
  this->schedule({{key(0, "b"), 600}});
  this->schedule({{key(0, "b"), 900}});
  this->schedule({{key(0, "b"), 900}});  // unchanged: nothing to do
  EXPECT_EQ(this->fire_all(0, 10'000, 10), (std::vector<std::string>{"b@900"}));
  EXPECT_TRUE(this->due(0, 20'000).empty());
}

TYPED_TEST(TimerStoreContract, CancelAfterRescheduleRemovesTheTimer) {
  this->schedule({{key(0, "a"), 100}});
  this->schedule({{key(0, "a"), 200}});
  this->cancel({key(0, "a")});
  EXPECT_TRUE(this->due(0, 1000).empty());
  this->restart();
  EXPECT_FALSE(this->next_due(0).has_value());
}

#ifndef NDEBUG
// Builds with assertions check that the store holds the timer the caller names as pending: a
// caller whose state and timers disagree stops at once rather than leaving a timer that fires twice
// or never.
TYPED_TEST(TimerStoreContract, APendingTimeTheStoreDoesNotHoldStopsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  this->schedule({{key(0, "a"), 100}});
  using Pending = TimerStore::Pending;
  store::Txn txn;
  EXPECT_DEATH(
      (void)this->timers_->schedule(txn, key(0, "a"), from_unix(300), Pending{from_unix(99)}),
      "pending timer is not in the store");
  EXPECT_DEATH((void)this->timers_->cancel(txn, key(0, "b"), Pending{from_unix(100)}),
               "pending timer is not in the store");
  // The names that hold: no stop.
  ASSERT_TRUE(this->timers_->cancel(txn, key(0, "a"), Pending{from_unix(100)}));
  ASSERT_TRUE(this->timers_->schedule(txn, key(0, "a"), from_unix(300), Pending{}));
}
#endif

TYPED_TEST(TimerStoreContract, OrdersAcrossNegativeAndPositiveEpochs) {
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  this->schedule({{key(0, "zero"), 0},
                  {key(0, "pos-big"), 4'000'000'000},
                  {key(0, "minus-one"), -1},
                  {key(0, "one"), 1},
                  {key(0, "neg-big"), -4'000'000'000},
                  {key(0, "min"), kMin}});
  EXPECT_EQ(this->next_due(0), kMin);
  EXPECT_EQ(names(this->due(0, 0)),
            (std::vector<std::string>{"min@" + std::to_string(kMin), "neg-big@-4000000000",
                                      "minus-one@-1", "zero@0"}));
  EXPECT_EQ(names(this->due(0, 5'000'000'000)),
            (std::vector<std::string>{"one@1", "pos-big@4000000000"}));
}

TYPED_TEST(TimerStoreContract, DueStopsAtNowInclusive) {
  this->schedule({{key(0, "a"), 99}, {key(0, "b"), 100}, {key(0, "c"), 101}});
  EXPECT_EQ(names(this->due(0, 100)), (std::vector<std::string>{"a@99", "b@100"}));
  EXPECT_EQ(this->next_due(0), 101) << "everything up to now was handed out";
  EXPECT_TRUE(this->due(0, 100).empty());
  EXPECT_EQ(names(this->due(0, 101)), (std::vector<std::string>{"c@101"}));
}

TYPED_TEST(TimerStoreContract, DueReturnsAtMostLimitAndContinuesAfterThem) {
  std::vector<std::pair<TimerKey, int64_t>> timers;
  for (int i = 0; i < 10; ++i) {
    // Appended, not `"e" + std::to_string(i)`: GCC 12 at -O3 reports a false -Wrestrict there.
    std::string id = "e";
    id += std::to_string(i);
    timers.push_back({key(0, id), 100 + i});
  }
  this->schedule(timers);
  EXPECT_EQ(names(this->due(0, 1000, 3)), (std::vector<std::string>{"e0@100", "e1@101", "e2@102"}));
  // Not yet cancelled, and still not handed out twice.
  EXPECT_EQ(names(this->due(0, 1000, 3)), (std::vector<std::string>{"e3@103", "e4@104", "e5@105"}));
  EXPECT_TRUE(this->due(0, 1000, 0).empty());
  EXPECT_EQ(this->fire_all(0, 1000, 3),
            (std::vector<std::string>{"e6@106", "e7@107", "e8@108", "e9@109"}));
}

TYPED_TEST(TimerStoreContract, BacklogWithinOneSecondIsHandedOutOnceInOrder) {
  // Day-based deadlines all fire at local midnight: thousands share a second.
  std::vector<std::pair<TimerKey, int64_t>> timers;
  std::vector<std::string> expected;
  for (int i = 0; i < 1000; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "ep-%04d", i);
    timers.push_back({key(0, id), 86'400});
    expected.push_back(std::string(id) + "@86400");
  }
  this->schedule(timers);
  EXPECT_EQ(this->fire_all(0, 86'400, 64), expected);
}

TYPED_TEST(TimerStoreContract, TimerCommittedAtOrBeforeTheHeadIsFound) {
  this->schedule({{key(0, "a"), 100}, {key(0, "b"), 100}});
  EXPECT_EQ(names(this->due(0, 100, 1)), (std::vector<std::string>{"a@100"}));
  this->cancel({key(0, "a")});
  // In the second being handed out, sorting before the last timer handed out.
  this->schedule({{key(0, "0-same-second"), 100}});
  EXPECT_EQ(this->fire_all(0, 200, 10), (std::vector<std::string>{"0-same-second@100", "b@100"}));
  // Before everything handed out so far (a late event).
  this->schedule({{key(0, "late"), 50}});
  EXPECT_EQ(this->next_due(0), 50);
  EXPECT_EQ(names(this->due(0, 200)), (std::vector<std::string>{"late@50"}));
}

TYPED_TEST(TimerStoreContract, PartitionsAreIsolated) {
  this->schedule({{key(1, "a"), 100}, {key(2, "a"), 200}, {key(3, "b"), 50}});
  EXPECT_EQ(this->next_due(1), 100);
  EXPECT_EQ(this->next_due(2), 200);
  EXPECT_FALSE(this->next_due(4).has_value());

  this->cancel({key(1, "a")});
  EXPECT_TRUE(this->due(1, 1000).empty());
  auto in_two = this->due(2, 1000);
  ASSERT_EQ(in_two.size(), 1u);
  EXPECT_EQ(in_two[0].key, key(2, "a"));
  EXPECT_EQ(names(this->due(3, 1000)), (std::vector<std::string>{"b@50"}));
}

TYPED_TEST(TimerStoreContract, HeadOfEachPartitionIsFoundAfterRestart) {
  this->schedule({{key(0, "a"), 500},
                  {key(0, "b"), -20},
                  {key(7, "c"), 300},
                  {key(7, "d"), 200},
                  {key(kLastPartition, "e"), 42}});
  this->cancel({key(0, "b")});
  this->restart();
  EXPECT_EQ(this->next_due(0), 500) << "the cancelled timer is no head";
  EXPECT_EQ(this->next_due(7), 200);
  EXPECT_EQ(this->next_due(kLastPartition), 42);
  EXPECT_FALSE(this->next_due(1).has_value());
  EXPECT_EQ(names(this->due(7, 1000)), (std::vector<std::string>{"d@200", "c@300"}));
  EXPECT_EQ(names(this->due(kLastPartition, 1000)), (std::vector<std::string>{"e@42"}));
}

TYPED_TEST(TimerStoreContract, HandedOutButNotCancelledComeBackAfterRestart) {
  this->schedule({{key(0, "a"), 100}, {key(0, "b"), 200}});
  EXPECT_EQ(this->due(0, 1000).size(), 2u);
  this->cancel({key(0, "a")});  // "b"'s batch was lost
  this->restart();
  EXPECT_EQ(names(this->due(0, 1000)), (std::vector<std::string>{"b@200"}));
}

TYPED_TEST(TimerStoreContract, DropPartitionRemovesItsTimersOnly) {
  if constexpr (kHeld<TypeParam>) GTEST_SKIP() << "a replay keeps its partitions";
  for (PartitionId p : {PartitionId{4}, PartitionId{5}, kLastPartition}) {
    this->schedule({{key(p, "a"), 100}, {key(p, "b"), 200}});
  }
  for (PartitionId p : {PartitionId{4}, kLastPartition}) {
    auto dropped = this->timers_->drop_partition(p);
    ASSERT_TRUE(dropped) << dropped.error().message;
    this->forget(p);
    EXPECT_FALSE(this->next_due(p).has_value());
    EXPECT_TRUE(this->due(p, 1000).empty());
  }
  EXPECT_EQ(this->due(5, 1000).size(), 2u);

  this->restart();
  EXPECT_FALSE(this->next_due(4).has_value());
  EXPECT_FALSE(this->next_due(kLastPartition).has_value());
  EXPECT_EQ(this->next_due(5), 100);

  // Nothing of the partition is left: the key schedules afresh, and cancelling it leaves nothing.
  this->schedule({{key(4, "a"), 300}});
  EXPECT_EQ(names(this->due(4, 1000)), (std::vector<std::string>{"a@300"}));
  this->cancel({key(4, "a")});
  this->restart();
  EXPECT_FALSE(this->next_due(4).has_value());
}

TYPED_TEST(TimerStoreContract, StateAndTimerCommitInOneBatch) {
  store::EpisodeStore episodes(*this->db_);
  storage::v1::EpisodeState state;
  state.set_episode_id("ep-1");
  store::Txn batch;
  episodes.put(batch, 0, state);
  ASSERT_TRUE(this->schedule_in(batch, key(0, "ep-1"), from_unix(200)));
  // Not what the pipeline does before a write, but it makes due() read the store.
  if constexpr (!kHeld<TypeParam>) {
    EXPECT_TRUE(this->due(0, 1000).empty()) << "nothing before the write";
  }
  this->write(batch);

  if constexpr (TypeParam::kSurvivesReopen) {
    // A crash copy of the state dir, its write-ahead log cut inside the last record: the batch is
    // one record, so the state and the timer are lost together; whole, both are there.
    for (size_t cut : {size_t{0}, size_t{1}}) {
      SCOPED_TRACE("bytes cut off the log: " + std::to_string(cut));
      store::testing::TempDir copy;
      std::filesystem::copy(this->backend_.dir.path(), copy.path() / "state",
                            std::filesystem::copy_options::recursive);
      std::filesystem::path newest_log;
      for (const auto& entry : std::filesystem::directory_iterator(copy.path() / "state")) {
        if (entry.path().extension() == ".log" && entry.path() > newest_log)
          newest_log = entry.path();
      }
      ASSERT_FALSE(newest_log.empty());
      std::filesystem::resize_file(newest_log, std::filesystem::file_size(newest_log) - cut);

      auto crashed = store::Db::open(copy.path() / "state", store::testing::small_options());
      ASSERT_TRUE(crashed) << crashed.error().message;
      auto stored = store::EpisodeStore(*crashed.value()).get(0, "ep-1");
      ASSERT_TRUE(stored);
      TimerStore timers(*crashed.value());
      ASSERT_TRUE(timers.load());
      auto due = timers.due(0, from_unix(1000), 10);
      ASSERT_TRUE(due);
      EXPECT_EQ(stored.value().has_value(), cut == 0);
      EXPECT_EQ(names(due.value()),
                cut == 0 ? std::vector<std::string>{"ep-1@200"} : std::vector<std::string>{});
    }
  }
  this->restart();
  auto after = store::EpisodeStore(*this->db_).get(0, "ep-1");
  ASSERT_TRUE(after);
  EXPECT_TRUE(after.value().has_value());
  EXPECT_EQ(names(this->due(0, 1000)), (std::vector<std::string>{"ep-1@200"}));
}

TYPED_TEST(TimerStoreContract, TransactionSeesItsOwnTimers) {
  store::Txn txn;
  ASSERT_TRUE(this->schedule_in(txn, key(0, "a"), from_unix(100)));
  ASSERT_TRUE(this->schedule_in(txn, key(0, "later"), from_unix(1001)));
  auto due = this->timers_->due(0, from_unix(1000), 10, &txn);
  ASSERT_TRUE(due);
  EXPECT_EQ(names(due.value()), (std::vector<std::string>{"a@100"}));
  // Fired within the transaction, then rescheduled at another time.
  ASSERT_TRUE(this->cancel_in(txn, key(0, "a")));
  ASSERT_TRUE(this->schedule_in(txn, key(0, "a"), from_unix(300)));
  due = this->timers_->due(0, from_unix(1000), 10, &txn);
  ASSERT_TRUE(due);
  EXPECT_EQ(names(due.value()), (std::vector<std::string>{"a@300"}));
  if constexpr (!kHeld<TypeParam>) {
    EXPECT_TRUE(this->due(0, 1000).empty()) << "nothing in the store before the write";
  }
  this->write(txn);
  this->restart();
  EXPECT_EQ(this->next_due(0), 300);
  EXPECT_EQ(names(this->due(0, 1000)), (std::vector<std::string>{"a@300"}));
  EXPECT_EQ(names(this->due(0, 1001)), (std::vector<std::string>{"later@1001"}));
}

TYPED_TEST(TimerStoreContract, DroppedTransactionLeavesNoTimer) {
  {
    store::Txn dropped;
    ASSERT_TRUE(this->schedule_in(dropped, key(0, "a"), from_unix(100)));
    EXPECT_EQ(this->next_due(0), 100) << "the head moves back at once";
  }
  this->forget(0);
  ASSERT_TRUE(this->timers_->load());
  EXPECT_FALSE(this->next_due(0).has_value());
  EXPECT_TRUE(this->due(0, 1000).empty());
}

// Every timer key must reach the store as put, single-delete, put, single-delete...: a second put
// before the delete would let an older copy survive compaction. Transactions may fire and
// reschedule a key to the same second, so check what compaction leaves.
TYPED_TEST(TimerStoreContract, RescheduledAndCancelledTimersStayGoneAfterCompaction) {
  auto* family = this->db_->family(Family::kTimers);
  this->schedule({{key(0, "k"), 100}, {key(0, "j"), 100}});
  ASSERT_TRUE(this->db_->raw().Flush({}, family).ok());

  store::Txn same_time;  // fired and scheduled again at the time it had
  ASSERT_TRUE(this->cancel_in(same_time, key(0, "k")));
  ASSERT_TRUE(this->schedule_in(same_time, key(0, "k"), from_unix(100)));
  this->write(same_time);
  store::Txn moved;
  ASSERT_TRUE(this->schedule_in(moved, key(0, "k"), from_unix(200)));
  this->write(moved);

  store::Txn churn;  // back and forth within one transaction
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(this->cancel_in(churn, key(0, "j")));
    ASSERT_TRUE(this->schedule_in(churn, key(0, "j"), from_unix(100)));
  }
  ASSERT_TRUE(this->cancel_in(churn, key(0, "j")));
  this->write(churn);

  ASSERT_TRUE(this->db_->raw().Flush({}, family).ok());
  rocksdb::CompactRangeOptions full;
  full.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  ASSERT_TRUE(this->db_->raw().CompactRange(full, family, nullptr, nullptr).ok());
  this->restart();
  EXPECT_EQ(names(this->due(0, 1000)), (std::vector<std::string>{"k@200"}));
}

// Fired and cancelled timers leave SingleDelete tombstones at the head of the queue; a flushed file
// dense with them is marked for compaction, which drops each tombstone with the timer it deletes.
TYPED_TEST(TimerStoreContract, FiredTimersLeaveNoTombstonesBehind) {
  auto* family = this->db_->family(Family::kTimers);
  std::vector<std::pair<TimerKey, int64_t>> timers;
  for (int i = 0; i < 2000; ++i) timers.push_back({key(0, "ep-" + std::to_string(i)), 1000 + i});
  this->schedule(timers);
  ASSERT_TRUE(this->db_->raw().Flush({}, family).ok());
  EXPECT_EQ(this->fire_all(0, 10'000, 500).size(), 2000u);
  ASSERT_TRUE(this->db_->raw().Flush({}, family).ok());

  // Two L0 files: below the file-count trigger, only the tombstone marking compacts them.
  auto entries_left = [&] {
    rocksdb::TablePropertiesCollection tables;
    EXPECT_TRUE(this->db_->raw().GetPropertiesOfAllTables(family, &tables).ok());
    uint64_t entries = 0;
    for (const auto& [file, props] : tables) entries += props->num_entries;
    return entries;
  };
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (entries_left() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(entries_left(), 0u);
}

// Memory mode: the store sees nothing of schedule() and cancel() until a spill, and then only the
// difference from the last one.
TEST(HeldTimerStore, TheStoreChangesOnlyAtASpillAndByTheDifference) {
  store::testing::OnDisk backend;
  auto db = backend.open();
  ASSERT_TRUE(db) << db.error().message;
  TimerStore held(*db.value());
  held.keep_in_memory();
  ASSERT_TRUE(held.load());
  auto stored = [&] {  // what a store of its own reads from the disk
    TimerStore disk(*db.value());
    EXPECT_TRUE(disk.load());
    auto due = disk.due(0, from_unix(10'000), 100);
    EXPECT_TRUE(due);
    return due ? names(due.value()) : std::vector<std::string>{};
  };
  auto spill = [&] {  // the batch's entry count
    store::Txn txn;
    held.spill(*txn.batch().GetWriteBatch());
    const uint32_t entries = txn.count();
    EXPECT_TRUE(db.value()->write(txn));
    EXPECT_FALSE(held.changed());
    return entries;
  };
  using Pending = TimerStore::Pending;
  store::Txn unit;
  ASSERT_TRUE(held.schedule(unit, key(0, "a"), from_unix(100), Pending{}));
  ASSERT_TRUE(held.schedule(unit, key(0, "b"), from_unix(200), Pending{}));
  EXPECT_EQ(unit.count(), 0u) << "nothing goes into the unit's transaction";
  EXPECT_TRUE(held.changed());
  EXPECT_TRUE(stored().empty());
  EXPECT_EQ(spill(), 2u);
  EXPECT_EQ(stored(), (std::vector<std::string>{"a@100", "b@200"}));

  // Moved and moved back, cancelled and scheduled again at the same time, scheduled and cancelled:
  // the store needs nothing.
  ASSERT_TRUE(held.schedule(unit, key(0, "a"), from_unix(150), Pending{from_unix(100)}));
  ASSERT_TRUE(held.schedule(unit, key(0, "a"), from_unix(100), Pending{from_unix(150)}));
  ASSERT_TRUE(held.cancel(unit, key(0, "b"), Pending{from_unix(200)}));
  ASSERT_TRUE(held.schedule(unit, key(0, "b"), from_unix(200), Pending{}));
  ASSERT_TRUE(held.schedule(unit, key(0, "c"), from_unix(300), Pending{}));
  ASSERT_TRUE(held.cancel(unit, key(0, "c"), Pending{from_unix(300)}));
  EXPECT_FALSE(held.changed());
  EXPECT_EQ(spill(), 0u);

  // A move is a delete and a put; the held due() sees it before the spill, the store after.
  ASSERT_TRUE(held.schedule(unit, key(0, "b"), from_unix(50), Pending{from_unix(200)}));
  auto due = held.due(0, from_unix(10'000), 100);
  ASSERT_TRUE(due);
  EXPECT_EQ(names(due.value()), (std::vector<std::string>{"b@50", "a@100"}));
  EXPECT_EQ(stored(), (std::vector<std::string>{"a@100", "b@200"}));
  EXPECT_EQ(spill(), 2u);
  EXPECT_EQ(stored(), (std::vector<std::string>{"b@50", "a@100"}));
}

}  // namespace
}  // namespace samordna::timers
