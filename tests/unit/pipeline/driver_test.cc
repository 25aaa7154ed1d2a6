#include "engine/pipeline/driver.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>

namespace samordna::pipeline {
namespace {

Instant at(const std::string& s) { return parse_rfc3339(s).value(); }

rules::RuleBook book() {
  rules::RuleSet set;
  set.id = "test";
  set.title = "test";
  set.valid_from = date::year{2018} / 1 / 1;
  return rules::RuleBook({set});
}

v1::Event event(const std::string& id, const std::string& episode, const std::string& recorded,
                const std::string& payload) {
  v1::Event e;
  const std::string json = R"({"eventId":")" + id + R"(","episodeId":")" + episode +
                           R"(","occurredAt":"2025-03-03T08:00:00Z","recordedAt":")" + recorded +
                           R"(",)" + payload + "}";
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &e).ok()) << json;
  return e;
}

const char* const kAdmitted =
    R"("admitted":{"patient":{"personalId":"195704289999","name":"N","address":"A","homeMunicipality":"0380"},"careUnit":"w","region":"03","careType":"SOMATIC"})";
const char* const kNeeds =
    R"("needsAssessed":{"needs":["SOCIAL_SERVICES"],"estimatedDischargeAt":"2025-03-10T08:00:00Z"})";
// No estimated discharge time: the admission notice is held, its 24 h deadline pending.
const char* const kNeedsHeld = R"("needsAssessed":{"needs":["SOCIAL_SERVICES"]})";
const char* const kCancelled = R"("admissionCancelled":{})";

// Records what the driver hands its output; can refuse (abort) the next commit.
class Recorder final : public Output {
 public:
  Result<void> begin() override {
    ++begun;
    return ok();
  }
  Result<void> notify(const v1::Notification& n) override {
    notified.push_back(n.notification_id());
    return ok();
  }
  Result<std::optional<std::map<PartitionId, int64_t>>> commit(const Changes& changes) override {
    if (abort_next) {
      abort_next = false;
      return std::optional<std::map<PartitionId, int64_t>>{};
    }
    last = {};
    for (const auto& e : changes.episodes) {
      last.episodes.push_back({e.partition, e.episode_id, nullptr, {}, {}});
      tombstones += e.state == nullptr ? 1 : 0;
      // The changelog's value is the state, serialized.
      if (e.state != nullptr) {
        records[e.episode_id] = std::string(e.record);
        if (e.record != e.state->SerializeAsString()) ++records_unlike_state;
      } else if (!e.record.empty()) {
        ++records_unlike_state;
      }
    }
    last.clocks = changes.clocks;
    return std::optional<std::map<PartitionId, int64_t>>{{{0, ++position}}};
  }
  int begun = 0;
  bool abort_next = false;
  int tombstones = 0;
  int records_unlike_state = 0;
  std::map<std::string, std::string> records;  // the last record handed out per episode
  int64_t position = 0;
  Changes last;
  std::vector<std::string> notified;
};

// Every test runs twice: the store written at each commit, and write-behind (the store written at
// spills only; what the service does by default), whose differences the tests say where they
// matter.
class DriverTest : public ::testing::TestWithParam<bool> {
 protected:
  static bool write_behind() { return GetParam(); }
  // The test's options, in the mode the test runs in.
  static DriverOptions options() {
    DriverOptions o;
    if (write_behind()) o.write_behind = 1000;
    return o;
  }
  // The same, keeping a settled episode this long before it is retired.
  static DriverOptions retaining(std::chrono::seconds retention) {
    DriverOptions o = options();
    o.retention = retention;
    return o;
  }
  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '-');
    dir_ = std::filesystem::temp_directory_path() /
           ("samordna-driver-test-" + std::to_string(::getpid()) + "-" + name);
    std::filesystem::remove_all(dir_);
    reopen();
  }
  void TearDown() override {
    driver_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void reopen(const DriverOptions& options = DriverTest::options()) {
    driver_.reset();
    db_.reset();
    db_ = store::Db::open(dir_, store::DbOptions{}).value();
    driver_ = std::make_unique<Driver>(*db_, rules_, out_, options);
    ASSERT_TRUE(driver_->open());
    ASSERT_TRUE(driver_->add_partition(0));
  }

  // The stored timers whose key names the episode.
  size_t timers_of(const std::string& episode_id) {
    size_t n = 0;
    auto it = db_->iterator(store::Family::kTimers, rocksdb::ReadOptions());
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key().ToString().find(episode_id) != std::string::npos) ++n;
    }
    return n;
  }

  rules::RuleBook rules_ = book();
  std::filesystem::path dir_;
  std::unique_ptr<store::Db> db_;
  Recorder out_;
  std::unique_ptr<Driver> driver_;
};

// The changelog record of a changed episode is its state serialized once: the store gets the same
// bytes, also for an episode staged several times in one unit.
TEST_P(DriverTest, TheChangelogRecordIsTheStateTheStoreHolds) {
  ASSERT_TRUE(driver_->event(0, event("e1", "ep1", "2025-03-03T08:00:00Z", kAdmitted)));
  ASSERT_TRUE(driver_->event(0, event("e2", "ep1", "2025-03-03T09:00:00Z", kNeedsHeld)));
  ASSERT_TRUE(driver_->event(0, event("e3", "ep2", "2025-03-03T09:30:00Z", kAdmitted)));
  ASSERT_TRUE(driver_->commit());
  ASSERT_TRUE(driver_->event(0, event("e4", "ep1", "2025-03-03T10:00:00Z", kNeeds)));
  ASSERT_TRUE(driver_->commit());
  if (write_behind()) {
    // Nothing reaches the store before a spill.
    EXPECT_FALSE(db_->get(store::Family::kEpisodes, std::string("\0\0\0\0ep1", 7)).value());
    ASSERT_TRUE(driver_->spill());
  }
  EXPECT_EQ(out_.records_unlike_state, 0);
  ASSERT_EQ(out_.records.size(), 2u);
  for (const auto& [id, record] : out_.records) {
    auto stored = db_->get(store::Family::kEpisodes, std::string("\0\0\0\0", 4) + id);
    ASSERT_TRUE(stored) << stored.error().message;
    ASSERT_TRUE(stored.value().has_value()) << id;
    EXPECT_EQ(*stored.value(), record) << id << ": the store holds the changelog's bytes";
  }
}

TEST_P(DriverTest, OnlyGoodEventsMoveTheEventTimeClock) {
  ASSERT_TRUE(driver_->event(0, event("e1", "ep1", "2025-03-03T08:00:00Z", kAdmitted)));
  ASSERT_TRUE(driver_->event(0, event("e2", "ep1", "2025-03-03T09:00:00Z", kNeedsHeld)));
  EXPECT_EQ(driver_->now(0), at("2025-03-03T09:00:00Z"));
  // Refused by the engine (an episode never admitted), recorded years later: time stays, and the
  // admission notice's deadline (due 2025-03-04 09:00) does not fire.
  auto refused = driver_->event(0, event("x", "ep-unknown", "2030-01-01T00:00:00Z", kNeeds));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused.value().kind, Outcome::Kind::kRejected);
  EXPECT_EQ(driver_->now(0), at("2025-03-03T09:00:00Z"));
  EXPECT_EQ(driver_->counts().fired, 0u);
  // A re-sent event is good: its time counts.
  auto resent = driver_->event(0, event("e1", "ep1", "2025-03-03T10:00:00Z", kAdmitted));
  ASSERT_TRUE(resent);
  EXPECT_EQ(resent.value().kind, Outcome::Kind::kDuplicate);
  EXPECT_EQ(driver_->now(0), at("2025-03-03T10:00:00Z"));
  // A good event past the deadline fires it first.
  ASSERT_TRUE(driver_->event(0, event("e4", "ep2", "2025-03-05T00:00:00Z", kAdmitted)));
  EXPECT_EQ(driver_->counts().fired, 1u);
  // An event without occurredAt is refused by the driver itself.
  v1::Event bare = event("e3", "ep1", "2025-03-03T11:00:00Z", kCancelled);
  bare.clear_occurred_at();
  auto no_time = driver_->event(0, bare);
  ASSERT_TRUE(no_time);
  EXPECT_EQ(no_time.value().kind, Outcome::Kind::kRejected);
  EXPECT_EQ(no_time.value().rejection->reason, "occurredAt is required");
}

TEST_P(DriverTest, TheClockSurvivesARestartAndIsHandedToTheOutput) {
  ASSERT_TRUE(driver_->event(0, event("e1", "ep1", "2025-03-03T08:00:00Z", kAdmitted)));
  ASSERT_TRUE(driver_->commit());
  ASSERT_EQ(out_.last.clocks.size(), 1u);
  EXPECT_EQ(out_.last.clocks[0].second, at("2025-03-03T08:00:00Z"));
  if (write_behind()) {
    ASSERT_TRUE(driver_->spill());  // else the clock waits for the next spill
  }
  reopen();
  EXPECT_EQ(driver_->now(0), at("2025-03-03T08:00:00Z"));
  auto cp = driver_->checkpoint(0);
  ASSERT_TRUE(cp);
  EXPECT_EQ(cp.value(), 1);
  // A unit that moved no clock hands none over.
  ASSERT_TRUE(driver_->event(0, event("e1", "ep1", "2025-03-03T07:00:00Z", kAdmitted)));
  ASSERT_TRUE(driver_->commit());
  EXPECT_TRUE(out_.last.clocks.empty());
}

TEST_P(DriverTest, ARestoredClockRecordSetsThePartitionsClock) {
  driver_->restore_clock(3, at("2026-01-01T00:00:00Z"));
  ASSERT_TRUE(driver_->restore_done(3, 42));
  ASSERT_TRUE(driver_->add_partition(3));
  EXPECT_EQ(driver_->now(3), at("2026-01-01T00:00:00Z"));
  EXPECT_EQ(driver_->checkpoint(3).value(), 42);
}

TEST_P(DriverTest, AnAbortedUnitIsDroppedWhole) {
  ASSERT_TRUE(driver_->event(0, event("e1", "ep1", "2025-03-03T08:00:00Z", kAdmitted)));
  ASSERT_TRUE(driver_->commit());
  ASSERT_TRUE(driver_->spill());  // write-behind drops back to here (the next test)
  const auto before = driver_->counts();
  ASSERT_TRUE(driver_->event(0, event("e2", "ep1", "2025-03-03T09:00:00Z", kNeeds)));
  out_.abort_next = true;
  auto committed = driver_->commit();
  ASSERT_TRUE(committed);
  EXPECT_FALSE(committed.value());
  EXPECT_FALSE(driver_->in_unit());
  EXPECT_EQ(driver_->counts().applied, before.applied);
  EXPECT_EQ(driver_->now(0), at("2025-03-03T08:00:00Z"));
  auto state = driver_->episode(0, "ep1");
  ASSERT_TRUE(state);
  ASSERT_TRUE(state.value().has_value());
  EXPECT_EQ(state.value()->needs_size(), 0);  // the needs never happened
  // Applied again, it is applied, not a duplicate.
  auto again = driver_->event(0, event("e2", "ep1", "2025-03-03T09:00:00Z", kNeeds));
  ASSERT_TRUE(again);
  EXPECT_EQ(again.value().kind, Outcome::Kind::kApplied);
}

TEST_P(DriverTest, ASettledEpisodeIsRetiredAfterRetention) {
  const DriverOptions options = retaining(std::chrono::hours{24});
  reopen(options);
  ASSERT_TRUE(driver_->event(0, event("e1", "ep1", "2025-03-03T08:00:00Z", kAdmitted)));
  ASSERT_TRUE(driver_->event(0, event("e2", "ep1", "2025-03-03T09:00:00Z", kCancelled)));
  ASSERT_TRUE(driver_->commit());
  auto state = driver_->episode(0, "ep1");
  ASSERT_TRUE(state.value().has_value());
  EXPECT_EQ(state.value()->retire_at(), to_unix(at("2025-03-04T09:00:00Z")));
  // Not yet: a second before.
  driver_->advance_clock(0, at("2025-03-04T08:59:59Z"));
  EXPECT_FALSE(driver_->overdue(0));
  driver_->advance_clock(0, at("2025-03-04T09:00:00Z"));
  ASSERT_TRUE(driver_->overdue(0));
  auto fired = driver_->timer_pass(0);
  ASSERT_TRUE(fired);
  EXPECT_EQ(fired.value(), 1u);
  ASSERT_TRUE(driver_->commit());
  EXPECT_EQ(out_.tombstones, 1);
  EXPECT_EQ(driver_->counts().retired, 1u);
  EXPECT_FALSE(driver_->episode(0, "ep1").value().has_value());
  // Forgotten: a late event for it is an unknown episode now.
  auto late = driver_->event(0, event("e3", "ep1", "2025-03-05T09:00:00Z", kNeeds));
  ASSERT_TRUE(late);
  EXPECT_EQ(late.value().rejection->code, state::Rejection::Code::kUnknownEpisode);
}

// A cancelled discharge (HL7 A13) opens a settled episode again: it must not be retired while the
// stay goes on, and it gets a new retire_at when it is settled anew.
TEST_P(DriverTest, AnEpisodeOpenedAgainByACancelledDischargeIsKept) {
  const DriverOptions options = retaining(std::chrono::hours{24});
  reopen(options);
  ASSERT_TRUE(driver_->event(0, event("e1", "ep1", "2025-03-03T08:00:00Z", kAdmitted)));
  ASSERT_TRUE(driver_->event(0, event("e2", "ep1", "2025-03-03T09:00:00Z", R"("discharged":{})")));
  ASSERT_TRUE(driver_->commit());
  EXPECT_EQ(driver_->episode(0, "ep1").value()->retire_at(), to_unix(at("2025-03-04T09:00:00Z")));
  auto cancelled =
      driver_->event(0, event("e3", "ep1", "2025-03-03T10:00:00Z", R"("dischargeCancelled":{})"));
  ASSERT_TRUE(cancelled);
  ASSERT_EQ(cancelled.value().kind, Outcome::Kind::kApplied);
  ASSERT_TRUE(driver_->commit());
  EXPECT_FALSE(driver_->episode(0, "ep1").value()->has_retire_at());
  // Past the old retire_at: a timer pass (the head is only a lower bound) retires nothing.
  driver_->advance_clock(0, at("2025-03-05T00:00:00Z"));
  ASSERT_TRUE(driver_->timer_pass(0));
  ASSERT_TRUE(driver_->commit());
  EXPECT_EQ(driver_->counts().retired, 0u);
  EXPECT_TRUE(driver_->episode(0, "ep1").value().has_value());
  ASSERT_TRUE(driver_->event(0, event("e4", "ep1", "2025-03-05T01:00:00Z", R"("discharged":{})")));
  ASSERT_TRUE(driver_->commit());
  EXPECT_EQ(driver_->episode(0, "ep1").value()->retire_at(), to_unix(at("2025-03-06T01:00:00Z")));
}

TEST_P(DriverTest, NoRetentionKeepsSettledEpisodes) {
  reopen(retaining(std::chrono::seconds{0}));
  ASSERT_TRUE(driver_->event(0, event("e1", "ep1", "2025-03-03T08:00:00Z", kAdmitted)));
  ASSERT_TRUE(driver_->event(0, event("e2", "ep1", "2025-03-03T09:00:00Z", kCancelled)));
  ASSERT_TRUE(driver_->commit());
  EXPECT_FALSE(driver_->episode(0, "ep1").value()->has_retire_at());
  driver_->advance_clock(0, at("2030-01-01T00:00:00Z"));
  EXPECT_FALSE(driver_->overdue(0));
}

TEST_P(DriverTest, TimerPassesNeverOverfillAUnit) {
  DriverOptions options = DriverTest::options();
  options.max_batch = 3;
  options.timer_pass = 100;
  reopen(options);
  for (int i = 0; i < 5; ++i) {
    const std::string ep = "ep" + std::to_string(i);
    ASSERT_TRUE(driver_->event(0, event("a", ep, "2025-03-03T08:00:00Z", kAdmitted)));
    ASSERT_TRUE(driver_->event(0, event("n", ep, "2025-03-03T08:00:00Z", kNeedsHeld)));
    ASSERT_TRUE(driver_->commit());
  }
  driver_->advance_clock(0, at("2025-03-20T00:00:00Z"));
  size_t total = 0;
  while (driver_->overdue(0)) {
    auto fired = driver_->timer_pass(0);
    ASSERT_TRUE(fired);
    EXPECT_LE(fired.value(), 3u);
    total += fired.value();
    ASSERT_TRUE(driver_->commit());
  }
  EXPECT_GE(total, 5u);  // at least each admission notice's deadline
}

// Write-behind: an aborted unit takes everything held since the last spill with it (the committed
// units' changes too); the driver is at the store's point, for the adapter to restore from its log.
TEST_P(DriverTest, WithWriteBehindAnAbortedUnitGoesBackToTheLastSpill) {
  if (!write_behind()) GTEST_SKIP() << "without write-behind each commit writes the store";
  ASSERT_TRUE(driver_->event(0, event("e1", "ep1", "2025-03-03T08:00:00Z", kAdmitted)));
  ASSERT_TRUE(driver_->commit());
  ASSERT_TRUE(driver_->spill());
  EXPECT_EQ(driver_->checkpoint(0).value(), 1);
  // Committed outside, not spilled: ep2, with its admission notice's deadline pending.
  ASSERT_TRUE(driver_->event(0, event("e2", "ep2", "2025-03-03T08:30:00Z", kAdmitted)));
  ASSERT_TRUE(driver_->event(0, event("e3", "ep2", "2025-03-03T08:40:00Z", kNeedsHeld)));
  ASSERT_TRUE(driver_->commit());
  EXPECT_EQ(driver_->checkpoint(0).value(), 1);  // the store is still the spill's
  ASSERT_TRUE(driver_->event(0, event("e4", "ep1", "2025-03-03T09:00:00Z", kNeeds)));
  out_.abort_next = true;
  auto committed = driver_->commit();
  ASSERT_TRUE(committed);
  EXPECT_FALSE(committed.value());
  EXPECT_TRUE(driver_->episode(0, "ep1").value().has_value());
  EXPECT_EQ(driver_->episode(0, "ep1").value()->needs_size(), 0);
  EXPECT_FALSE(driver_->episode(0, "ep2").value().has_value()) << "held since the spill: dropped";
  // Its deadline went with it: nothing fires past it.
  driver_->advance_clock(0, at("2025-03-10T00:00:00Z"));
  ASSERT_TRUE(driver_->timer_pass(0));
  ASSERT_TRUE(driver_->commit());
  EXPECT_EQ(driver_->counts().fired, 0u);
}

// With write-behind the pending timers are counted exactly (the metric samordna_timers_pending):
// before a spill, the number the store then holds.
TEST_P(DriverTest, WithWriteBehindPendingTimersAreCountedExactly) {
  if (!write_behind()) GTEST_SKIP() << "without write-behind RocksDB's estimate is the count";
  for (const char* ep : {"ep1", "ep2", "ep3"}) {
    ASSERT_TRUE(
        driver_->event(0, event(std::string(ep) + "-a", ep, "2025-03-03T08:00:00Z", kAdmitted)));
    ASSERT_TRUE(
        driver_->event(0, event(std::string(ep) + "-n", ep, "2025-03-03T08:00:00Z", kNeedsHeld)));
  }
  ASSERT_TRUE(driver_->commit());
  const uint64_t held = driver_->estimate_size().second;
  ASSERT_TRUE(driver_->spill());
  uint64_t stored = 0;
  auto it = db_->iterator(store::Family::kTimers, rocksdb::ReadOptions());
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++stored;
  EXPECT_GE(stored, 3u);  // each episode's admission notice deadline at least
  EXPECT_EQ(held, stored);
}

// A settled episode, which write-behind holds as its record (Engine::Cached::packed), is the same
// episode whichever way it is reached: read, spilled, opened again by a late fact, settled anew and
// retired, with every timer it had gone from the store.
TEST_P(DriverTest, ASettledEpisodeIsTheSameThroughASpillALateFactAndItsRetirement) {
  const DriverOptions options = retaining(std::chrono::hours{24});
  reopen(options);
  ASSERT_TRUE(driver_->event(0, event("e1", "ep1", "2025-03-03T08:00:00Z", kAdmitted)));
  ASSERT_TRUE(driver_->event(0, event("e2", "ep1", "2025-03-03T09:00:00Z", R"("discharged":{})")));
  ASSERT_TRUE(driver_->event(0, event("e3", "ep2", "2025-03-03T08:30:00Z", kAdmitted)));
  ASSERT_TRUE(driver_->event(0, event("e4", "ep2", "2025-03-03T08:40:00Z", kNeedsHeld)));
  ASSERT_TRUE(driver_->commit());
  const std::string settled = out_.records.at("ep1");
  ASSERT_TRUE(driver_->episode(0, "ep1").value().has_value());
  EXPECT_EQ(driver_->episode(0, "ep1").value()->SerializeAsString(), settled);
  // Written by a spill, read back by a new process: the same bytes.
  ASSERT_TRUE(driver_->spill());
  EXPECT_GE(timers_of("ep1"), 1u);  // its retention timer
  reopen(options);
  EXPECT_EQ(driver_->episode(0, "ep1").value()->SerializeAsString(), settled);
  // A late fact opens it again (a cancelled discharge), and it is settled anew.
  auto cancelled =
      driver_->event(0, event("e5", "ep1", "2025-03-03T10:00:00Z", R"("dischargeCancelled":{})"));
  ASSERT_TRUE(cancelled);
  ASSERT_EQ(cancelled.value().kind, Outcome::Kind::kApplied);
  ASSERT_TRUE(driver_->commit());
  EXPECT_FALSE(driver_->episode(0, "ep1").value()->has_retire_at());
  ASSERT_TRUE(driver_->event(0, event("e6", "ep1", "2025-03-03T11:00:00Z", R"("discharged":{})")));
  ASSERT_TRUE(driver_->commit());
  EXPECT_EQ(driver_->episode(0, "ep1").value()->retire_at(), to_unix(at("2025-03-04T11:00:00Z")));
  EXPECT_EQ(driver_->episode(0, "ep1").value()->SerializeAsString(), out_.records.at("ep1"));
  // Retired: a tombstone, and none of its timers left to fire or to store.
  driver_->advance_clock(0, at("2025-03-04T11:00:00Z"));
  ASSERT_TRUE(driver_->timer_pass(0));
  ASSERT_TRUE(driver_->commit());
  EXPECT_EQ(driver_->counts().retired, 1u);
  EXPECT_EQ(out_.tombstones, 1);
  EXPECT_FALSE(driver_->episode(0, "ep1").value().has_value());
  ASSERT_TRUE(driver_->spill());
  EXPECT_EQ(timers_of("ep1"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, DriverTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& mode) {
                           return mode.param ? "WriteBehind" : "StoreEachCommit";
                         });

}  // namespace
}  // namespace samordna::pipeline
