#include "engine/pipeline/engine.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

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

v1::Event event(const std::string& id, const std::string& occurred, const std::string& payload) {
  v1::Event e;
  const std::string json = R"({"eventId":")" + id + R"(","episodeId":"ep1","occurredAt":")" +
                           occurred + R"(",)" + payload + "}";
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &e).ok()) << json;
  return e;
}

const char* kAdmitted =
    R"("admitted":{"patient":{"personalId":"195704289999","name":"N","address":"A","homeMunicipality":"0380"},"careUnit":"w","region":"03","careType":"SOMATIC"})";
const char* kNeeds = R"("needsAssessed":{"needs":["SOCIAL_SERVICES"]})";  // no estimate: held

class EngineTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("samordna-engine-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    open();
  }
  void TearDown() override {
    engine_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open() {
    engine_.reset();
    db_.reset();
    store::DbOptions options;
    options.in_memory = GetParam();
    db_ = store::Db::open(dir_, options).value();
    engine_ = std::make_unique<Engine>(*db_, rules_);
    ASSERT_TRUE(engine_->open());
  }

  Result<Outcome> apply(PartitionId p, const v1::Event& e, Instant now) {
    store::Txn txn;
    auto outcome = engine_->apply(p, e, now, txn);
    if (outcome) {
      auto written = engine_->write(txn);
      if (!written) return written.error();
    }
    return outcome;
  }
  // The admission, then the same admission again (a duplicate) and a revocation of a declaration
  // that never came (a refusal).
  void admit_then_repeat_and_refuse() {
    ASSERT_TRUE(
        apply(0, event("a", "2022-03-01T08:00:00Z", kAdmitted), at("2022-03-01T08:00:00Z")));
    auto dup = apply(0, event("a", "2022-03-01T08:00:00Z", kAdmitted), at("2022-03-01T09:00:00Z"));
    ASSERT_TRUE(dup);
    EXPECT_EQ(dup.value().kind, Outcome::Kind::kDuplicate);
    auto bad = apply(0, event("x", "2022-03-01T08:00:00Z", R"("dischargeReadyRevoked":{})"),
                     at("2022-03-01T09:00:00Z"));
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad.value().kind, Outcome::Kind::kRejected);
    EXPECT_EQ(bad.value().rejection->code, state::Rejection::Code::kOutOfOrder);
  }
  // Fires everything due at `now` in small passes, one transaction each.
  Result<void> fire_all(PartitionId p, Instant now, std::vector<v1::Notification>& out) {
    store::Txn txn;
    while (true) {
      auto fired = engine_->fire_due(p, now, 2, out, txn);
      if (!fired) return fired.error();
      auto written = engine_->write(txn);
      if (!written) return written.error();
      if (fired.value() < 2) return ok();
    }
  }

  rules::RuleBook rules_ = book();
  std::filesystem::path dir_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<Engine> engine_;
};

TEST_P(EngineTest, StateAndTimersAreCommittedTogetherAndFireOnce) {
  auto r = apply(0, event("a", "2022-03-01T08:00:00Z", kAdmitted), at("2022-03-01T08:00:00Z"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value().kind, Outcome::Kind::kApplied);
  r = apply(0, event("n", "2022-03-01T10:00:00Z", kNeeds), at("2022-03-01T10:00:00Z"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r.value().notifications.size(), 1u);  // noticeHeld
  ASSERT_TRUE(engine_->next_due(0));
  EXPECT_LE(*engine_->next_due(0), at("2022-03-02T10:00:01Z"));

  std::vector<v1::Notification> out;
  ASSERT_TRUE(fire_all(0, at("2022-03-02T10:00:00Z"), out));
  EXPECT_TRUE(out.empty());  // one second early
  ASSERT_TRUE(fire_all(0, at("2022-03-02T10:00:01Z"), out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].has_deadline_missed());
  out.clear();
  ASSERT_TRUE(fire_all(0, at("2022-03-05T00:00:00Z"), out));
  EXPECT_TRUE(out.empty());  // fired once, gone from the store
  auto state = engine_->episode(0, "ep1");
  ASSERT_TRUE(state);
  ASSERT_TRUE(state.value().has_value());
  EXPECT_TRUE(state.value()->timers().empty());
}

TEST_P(EngineTest, DuplicatesAndRejectionsDoNotTouchTheStore) {
  ASSERT_NO_FATAL_FAILURE(admit_then_repeat_and_refuse());
  EXPECT_EQ(engine_->episode(0, "ep1").value()->seen_keys_size(), 1);
}

TEST_P(EngineTest, ARejectedCheckLeavesNothingForTheNextApply) {
  // The driver reads each input into one Event object: after a refused check() the same object
  // comes back with the next input's content, at the same address and possibly the same time.
  const Instant t = at("2022-03-01T08:00:00Z");
  v1::Event e = event("x", "2022-03-01T08:00:00Z", R"("dischargeReadyRevoked":{})");
  store::Txn txn;
  auto probe = engine_->check(0, e, t);
  ASSERT_TRUE(probe);
  EXPECT_EQ(probe.value().kind, Outcome::Kind::kRejected);  // no episode yet
  e = event("a", "2022-03-01T08:00:00Z", kAdmitted);
  auto applied = engine_->apply(0, e, t, txn);
  ASSERT_TRUE(applied);
  EXPECT_EQ(applied.value().kind, Outcome::Kind::kApplied);
  ASSERT_TRUE(engine_->write(txn));
  EXPECT_TRUE(engine_->episode(0, "ep1").value().has_value());
}

TEST_P(EngineTest, ACheckedStepIsTheStepApplyMakes) {
  ASSERT_TRUE(apply(0, event("a", "2022-03-01T08:00:00Z", kAdmitted), at("2022-03-01T08:00:00Z")));
  const Instant t = at("2022-03-01T10:00:00Z");
  const v1::Event e = event("n", "2022-03-01T10:00:00Z", kNeeds);
  store::Txn txn;
  auto probe = engine_->check(0, e, t);
  ASSERT_TRUE(probe);
  EXPECT_EQ(probe.value().kind, Outcome::Kind::kApplied);
  auto applied = engine_->apply(0, e, t, txn);
  ASSERT_TRUE(applied);
  ASSERT_EQ(applied.value().notifications.size(), 1u);  // noticeHeld, as without the check
  EXPECT_TRUE(applied.value().notifications[0].has_notice_held());
}

TEST_P(EngineTest, PartitionsAreIndependent) {
  ASSERT_TRUE(apply(0, event("a", "2022-03-01T08:00:00Z", kAdmitted), at("2022-03-01T08:00:00Z")));
  auto other = apply(1, event("n", "2022-03-01T10:00:00Z", kNeeds), at("2022-03-01T10:00:00Z"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other.value().rejection->code, state::Rejection::Code::kUnknownEpisode);
}

TEST_P(EngineTest, PendingTimersSurviveAReopen) {
  if (GetParam()) GTEST_SKIP() << "an in-memory store does not outlive its handle";
  ASSERT_TRUE(apply(0, event("a", "2022-03-01T08:00:00Z", kAdmitted), at("2022-03-01T08:00:00Z")));
  ASSERT_TRUE(apply(0, event("n", "2022-03-01T10:00:00Z", kNeeds), at("2022-03-01T10:00:00Z")));
  open();
  std::vector<v1::Notification> out;
  ASSERT_TRUE(fire_all(0, at("2022-03-03T00:00:00Z"), out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].has_deadline_missed());
}

TEST_P(EngineTest, OneTransactionSpansInputsAndSeesItsOwnWrites) {
  store::Txn txn;
  ASSERT_TRUE(engine_->apply(0, event("a", "2022-03-01T08:00:00Z", kAdmitted),
                             at("2022-03-01T08:00:00Z"), txn));
  auto needs = engine_->apply(0, event("n", "2022-03-01T10:00:00Z", kNeeds),
                              at("2022-03-01T10:00:00Z"), txn);
  ASSERT_TRUE(needs);
  EXPECT_EQ(needs.value().kind,
            Outcome::Kind::kApplied);  // it saw the admission in the transaction
  EXPECT_FALSE(engine_->episode(0, "ep1").value().has_value()) << "nothing written yet";
  // The timer scheduled in the transaction fires in the same transaction.
  std::vector<v1::Notification> out;
  auto fired = engine_->fire_due(0, at("2022-03-02T10:00:01Z"), 10, out, txn);
  ASSERT_TRUE(fired);
  EXPECT_EQ(fired.value(), 1u);
  ASSERT_TRUE(engine_->write(txn));
  EXPECT_TRUE(engine_->episode(0, "ep1").value()->timers().empty());
}

// Timers read through a transaction respect due()'s upper bound, whether they are committed or
// only in the batch. RocksDB 7.8's batch iterator ignores iterate_upper_bound for batch-only keys;
// this test does not reach the iterator state that showed it (eos.equivalence against the real
// broker did, and fails without the check in TimerStore::due), but it pins the contract.
TEST_P(EngineTest, TimersScheduledInATransactionDoNotFireEarly) {
  // A committed timer in the store, due in the future...
  ASSERT_TRUE(apply(0, event("a", "2022-03-01T08:00:00Z", kAdmitted), at("2022-03-01T08:00:00Z")));
  ASSERT_TRUE(apply(0, event("n", "2022-03-01T10:00:00Z", kNeeds), at("2022-03-01T10:00:00Z")));
  // ...and, in an open transaction, another episode's timer that lives only in the batch.
  store::Txn txn;
  auto other = [](const std::string& id, const std::string& occurred, const std::string& payload) {
    v1::Event e = event(id, occurred, payload);
    e.set_episode_id("ep2");
    return e;
  };
  ASSERT_TRUE(engine_->apply(0, other("a2", "2022-03-01T09:00:00Z", kAdmitted),
                             at("2022-03-01T11:00:00Z"), txn));
  ASSERT_TRUE(engine_->apply(0, other("n2", "2022-03-01T11:00:00Z", kNeeds),
                             at("2022-03-01T11:00:00Z"), txn));
  for (const char* now : {"2022-03-01T11:00:00Z", "2022-03-02T00:00:00Z", "2022-03-02T10:00:00Z"}) {
    std::vector<v1::Notification> out;
    auto fired = engine_->fire_due(0, at(now), 10, out, txn);
    ASSERT_TRUE(fired);
    EXPECT_EQ(fired.value(), 0u) << "at " << now;
  }
  std::vector<v1::Notification> out;
  auto fired = engine_->fire_due(0, at("2022-03-02T11:00:01Z"), 10, out, txn);
  ASSERT_TRUE(fired);
  EXPECT_EQ(fired.value(), 2u);
}

// Retiring a stored episode (a changelog tombstone, or its retention) reads only its timers from
// the record: every timer it held leaves the store with it, and another episode's stay.
TEST_P(EngineTest, ARetiredEpisodeTakesEveryTimerItHeldWithIt) {
  auto pending = [&] {  // the timers in the store, by episode id (the key's tail)
    std::map<std::string, int> by_episode;
    auto it = db_->iterator(store::Family::kTimers, rocksdb::ReadOptions());
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string key = it->key().ToString();
      ++by_episode[key.substr(key.size() - 3)];
    }
    return by_episode;
  };
  for (const std::string id : {"ep1", "ep2"}) {
    v1::Event admitted = event("a", "2022-03-01T08:00:00Z", kAdmitted);
    v1::Event needs = event("n", "2022-03-01T09:00:00Z", kNeeds);
    admitted.set_episode_id(id);
    needs.set_episode_id(id);
    ASSERT_TRUE(apply(0, admitted, at("2022-03-01T08:00:00Z")));
    ASSERT_TRUE(apply(0, needs, at("2022-03-01T09:00:00Z")));
  }
  const auto ep1 = engine_->episode(0, "ep1").value();
  ASSERT_TRUE(ep1.has_value());
  ASSERT_GT(ep1->timers_size(), 0);
  const auto before = pending();
  ASSERT_EQ(before.at("ep1"), ep1->timers_size());
  ASSERT_EQ(before.at("ep2"), ep1->timers_size());
  {
    store::Txn txn;
    ASSERT_TRUE(engine_->retire(0, "ep1", txn));
    ASSERT_TRUE(engine_->write(txn));
  }
  EXPECT_EQ(engine_->retired(), 1u);
  EXPECT_FALSE(engine_->episode(0, "ep1").value().has_value());
  const auto after = pending();
  EXPECT_EQ(after.count("ep1"), 0u);
  EXPECT_EQ(after.at("ep2"), before.at("ep2"));
  // Retiring what the store does not have is nothing.
  store::Txn txn;
  EXPECT_TRUE(engine_->retire(0, "never", txn));
  EXPECT_EQ(engine_->retired(), 1u);
}

// A record whose timers cannot be read is corruption, named by episode and partition; nothing is
// retired.
TEST_P(EngineTest, RetiringARecordWhoseTimersDoNotReadIsCorruption) {
  std::string key;
  store::put_u32(key, 0);
  key += "ep1";
  // Field 25 (timers), length 200, with 2 bytes after it.
  ASSERT_TRUE(db_->raw()
                  .Put(rocksdb::WriteOptions(), db_->family(store::Family::kEpisodes), key,
                       std::string("\xca\x01\xc8\x01\x08\x01", 6))
                  .ok());
  store::Txn txn;
  auto retired = engine_->retire(0, "ep1", txn);
  ASSERT_FALSE(retired);
  EXPECT_EQ(retired.error().code, Errc::kCorruption);
  EXPECT_EQ(retired.error().message,
            "episode ep1 in partition 0: its record's timers cannot be read");
  EXPECT_EQ(engine_->retired(), 0u);
}

TEST_P(EngineTest, ADroppedTransactionLeavesNoTrace) {
  ASSERT_TRUE(apply(0, event("a", "2022-03-01T08:00:00Z", kAdmitted), at("2022-03-01T08:00:00Z")));
  {
    store::Txn txn;
    ASSERT_TRUE(engine_->apply(0, event("n", "2022-03-01T10:00:00Z", kNeeds),
                               at("2022-03-01T10:00:00Z"), txn));
    std::vector<v1::Notification> out;
    ASSERT_TRUE(engine_->fire_due(0, at("2022-03-02T10:00:01Z"), 10, out, txn));
    EXPECT_EQ(out.size(), 1u);
  }  // dropped, as after an aborted Kafka transaction
  ASSERT_TRUE(engine_->open());
  EXPECT_EQ(engine_->episode(0, "ep1").value()->seen_keys_size(), 1);
  // The needs event applies again, as if for the first time.
  auto again = apply(0, event("n", "2022-03-01T10:00:00Z", kNeeds), at("2022-03-01T10:00:00Z"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again.value().kind, Outcome::Kind::kApplied);
  std::vector<v1::Notification> out;
  ASSERT_TRUE(fire_all(0, at("2022-03-02T10:00:01Z"), out));
  EXPECT_EQ(out.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(OnDiskAndInMemory, EngineTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "InMemory" : "OnDisk";
                         });

// Write-behind (a replay without a write-ahead log): states and timers are held across units of
// work and reach the store only at a spill, all at once.
class EngineWriteBehindTest : public EngineTest {
 protected:
  void hold(size_t max_episodes) {
    engine_ = std::make_unique<Engine>(*db_, rules_, std::chrono::hours(24));
    engine_->write_behind(max_episodes);
    ASSERT_TRUE(engine_->open());
  }
  // What the store itself holds, read by an engine of its own that holds nothing.
  std::optional<storage::v1::EpisodeState> stored(const std::string& id) {
    Engine plain(*db_, rules_);
    return plain.episode(0, id).value();
  }
  std::optional<Instant> stored_head() {
    Engine plain(*db_, rules_);
    EXPECT_TRUE(plain.open());
    return plain.next_due(0);
  }
  Result<void> spill() {
    store::Txn txn;
    engine_->spill();
    return engine_->write(txn);
  }
};

TEST_P(EngineWriteBehindTest, TheStoreChangesOnlyAtASpill) {
  ASSERT_NO_FATAL_FAILURE(hold(100));
  ASSERT_TRUE(apply(0, event("a", "2022-03-01T08:00:00Z", kAdmitted), at("2022-03-01T08:00:00Z")));
  auto needs = apply(0, event("n", "2022-03-01T10:00:00Z", kNeeds), at("2022-03-01T10:00:00Z"));
  ASSERT_TRUE(needs);
  EXPECT_EQ(needs.value().kind, Outcome::Kind::kApplied) << "it saw the held admission";
  EXPECT_EQ(engine_->episode(0, "ep1").value()->seen_keys_size(), 2);
  EXPECT_FALSE(stored("ep1").has_value()) << "written units, but no spill yet";
  EXPECT_FALSE(stored_head().has_value());
  ASSERT_TRUE(engine_->next_due(0));

  ASSERT_TRUE(spill());
  ASSERT_TRUE(stored("ep1").has_value());
  EXPECT_EQ(stored("ep1")->seen_keys_size(), 2);
  EXPECT_EQ(stored_head(), engine_->next_due(0));

  // The timer fires from what is held; the store keeps the spilled point until the next spill.
  std::vector<v1::Notification> out;
  ASSERT_TRUE(fire_all(0, at("2022-03-02T10:00:01Z"), out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].has_deadline_missed());
  EXPECT_EQ(stored("ep1")->timers_size(), 1);
  ASSERT_TRUE(spill());
  EXPECT_EQ(stored("ep1")->timers_size(), 0);
  EXPECT_FALSE(stored_head().has_value());
}

TEST_P(EngineWriteBehindTest, MoreEpisodesThanTheBudgetSpillAtTheNextWrite) {
  ASSERT_NO_FATAL_FAILURE(hold(1));
  ASSERT_TRUE(apply(0, event("a", "2022-03-01T08:00:00Z", kAdmitted), at("2022-03-01T08:00:00Z")));
  EXPECT_FALSE(stored("ep1").has_value());
  v1::Event second = event("a2", "2022-03-01T09:00:00Z", kAdmitted);
  second.set_episode_id("ep2");
  ASSERT_TRUE(apply(0, second, at("2022-03-01T09:00:00Z")));
  EXPECT_TRUE(stored("ep1").has_value());
  EXPECT_TRUE(stored("ep2").has_value());
  // Read back from the store after the spill, lent to the next step, and held again.
  ASSERT_TRUE(apply(0, event("n", "2022-03-01T10:00:00Z", kNeeds), at("2022-03-01T10:00:00Z")));
  EXPECT_EQ(engine_->episode(0, "ep1").value()->seen_keys_size(), 2);
  EXPECT_EQ(stored("ep1")->seen_keys_size(), 1);
}

TEST_P(EngineWriteBehindTest, ARefusedOrRepeatedEventLeavesTheHeldStateAsItWas) {
  ASSERT_NO_FATAL_FAILURE(hold(100));
  ASSERT_NO_FATAL_FAILURE(admit_then_repeat_and_refuse());
  auto held = engine_->episode(0, "ep1").value();
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->episode_id(), "ep1");
  EXPECT_EQ(held->seen_keys_size(), 1);
  auto needs = apply(0, event("n", "2022-03-01T10:00:00Z", kNeeds), at("2022-03-01T10:00:00Z"));
  ASSERT_TRUE(needs);
  EXPECT_EQ(needs.value().kind, Outcome::Kind::kApplied);
  ASSERT_EQ(needs.value().notifications.size(), 1u);
}

TEST_P(EngineWriteBehindTest, ARetiredEpisodeLeavesTheStoreAtTheNextSpill) {
  ASSERT_NO_FATAL_FAILURE(hold(100));
  ASSERT_TRUE(apply(0, event("a", "2022-03-01T08:00:00Z", kAdmitted), at("2022-03-01T08:00:00Z")));
  ASSERT_TRUE(spill());
  ASSERT_TRUE(stored("ep1").has_value());
  // Cancelled: settled, and retired a day (the retention) later.
  ASSERT_TRUE(apply(0, event("c", "2022-03-01T09:00:00Z", R"("admissionCancelled":{})"),
                    at("2022-03-01T09:00:00Z")));
  std::vector<v1::Notification> out;
  ASSERT_TRUE(fire_all(0, at("2022-03-03T00:00:00Z"), out));
  EXPECT_EQ(engine_->retired(), 1u);
  EXPECT_FALSE(engine_->episode(0, "ep1").value().has_value());
  EXPECT_TRUE(stored("ep1").has_value());
  ASSERT_TRUE(spill());
  EXPECT_FALSE(stored("ep1").has_value());
  EXPECT_FALSE(stored_head().has_value());
}

// Grows one episode in `partition` by estimate changes, each a notice with a long id to each of its
// three units, until an event is refused for the state's size: returns that event's number, 0 if
// none was.
int grow_until_too_large(Engine& engine, PartitionId partition) {
  const std::string episode(256, 'p');
  int n = 0;
  auto step = [&](const std::string& payload) {
    v1::Event e =
        event(std::string(250, 'e') + std::to_string(100000 + n), "2022-03-01T08:00:00Z", payload);
    e.set_episode_id(episode);
    const Instant when = at("2022-03-01T08:00:00Z") + std::chrono::minutes{n++};
    *e.mutable_occurred_at() = to_proto(when);
    store::Txn txn;
    auto outcome = engine.apply(partition, e, when, txn);
    EXPECT_TRUE(outcome) << n;
    EXPECT_TRUE(engine.write(txn));
    return outcome ? outcome.value() : Outcome{};
  };
  EXPECT_TRUE(step(kAdmitted).applied());
  EXPECT_EQ(
      step(
          R"("needsAssessed":{"needs":["SOCIAL_SERVICES","MUNICIPAL_HEALTH_CARE","OUTPATIENT_CARE"],"outpatientUnit":")" +
          std::string(256, 'v') + R"(","estimatedDischargeAt":"2022-03-20T10:00:00Z"})")
          .notifications.size(),
      3u);
  while (n < state::kMaxEventsPerEpisode) {
    const int day = 10 + n % 2;  // each one a change
    const Outcome o = step(R"("estimatedDischargeChanged":{"estimatedDischargeAt":"2022-04-)" +
                           std::to_string(day) + R"(T10:00:00Z"})");
    if (o.kind == Outcome::Kind::kRejected) {
      EXPECT_NE(o.rejection->reason.find("state_too_large"), std::string::npos)
          << o.rejection->reason;
      return n;
    }
    EXPECT_EQ(o.notifications.size(), 3u);
  }
  return 0;
}

// The size limit refuses the same event whether the state's size is measured exactly (with the
// log, every state) or bounded (write-behind, state_size.h): a bound within the limit says what
// the exact size would.
TEST_P(EngineWriteBehindTest, AStateTooLargeIsRefusedAtTheSameEventWithoutTheLog) {
  const int logged = grow_until_too_large(*engine_, 0);
  EXPECT_GT(logged, 300);
  ASSERT_NO_FATAL_FAILURE(hold(100));
  EXPECT_EQ(grow_until_too_large(*engine_, 1), logged);
  ASSERT_TRUE(spill());  // within what apply() worked out (write_cache checks)
}

// A state not built by this process's steps (restored from a changelog, or read from a store an
// older version wrote) may hold strings longer than validate_event allows now: it is measured
// exactly, never bounded. Bounded, this one would come out far below its size, and the spill's
// check would stop the process.
TEST_P(EngineWriteBehindTest, AStateNotBuiltHereIsMeasuredExactly) {
  ASSERT_TRUE(apply(0, event("a", "2022-03-01T08:00:00Z", kAdmitted), at("2022-03-01T08:00:00Z")));
  storage::v1::EpisodeState old = *engine_->episode(0, "ep1").value();
  old.mutable_admission()->mutable_patient()->set_name(std::string(300'000, 'n'));
  {  // as an older version stored it
    store::Txn txn;
    ASSERT_TRUE(engine_->restore(0, old, txn));
    ASSERT_TRUE(engine_->write(txn));
  }
  ASSERT_NO_FATAL_FAILURE(hold(100));
  ASSERT_TRUE(apply(0, event("n", "2022-03-01T10:00:00Z", kNeeds), at("2022-03-01T10:00:00Z")));
  ASSERT_TRUE(spill());
  EXPECT_EQ(stored("ep1")->seen_keys_size(), 2);
  // Restored into a write-behind engine: the same.
  old.set_episode_id("ep2");
  {
    store::Txn txn;
    ASSERT_TRUE(engine_->restore(0, old, txn));
  }
  v1::Event needs = event("n", "2022-03-01T10:00:00Z", kNeeds);
  needs.set_episode_id("ep2");
  ASSERT_TRUE(apply(0, needs, at("2022-03-01T10:00:00Z")));
  ASSERT_TRUE(spill());
  EXPECT_EQ(stored("ep2")->seen_keys_size(), 2);
}

// An event checked before the timers its time passes fire (the driver's order) is stepped on the
// held state itself when none of its episode's timers is due by then: its apply() takes that
// step. A refusal hands the state back; a probe holding a lent state cannot be dropped.
TEST_P(EngineWriteBehindTest, ACheckedStepIsLentToItsApplyWhenNoneOfItsTimersIsDue) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ASSERT_NO_FATAL_FAILURE(hold(100));
  ASSERT_TRUE(apply(0, event("a", "2022-03-01T08:00:00Z", kAdmitted), at("2022-03-01T08:00:00Z")));
  ASSERT_TRUE(apply(0, event("n", "2022-03-01T10:00:00Z", kNeeds), at("2022-03-01T10:00:00Z")));
  // Refused in the check: the state is back in its slot, and a later probe may be dropped.
  const v1::Event revoked = event("x", "2022-03-01T11:00:00Z", R"("dischargeReadyRevoked":{})");
  auto refused = engine_->check(0, revoked, at("2022-03-01T11:00:00Z"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused.value().kind, Outcome::Kind::kRejected);
  ASSERT_TRUE(engine_->episode(0, "ep1").value().has_value());
  EXPECT_EQ(engine_->episode(0, "ep1").value()->seen_keys_size(), 2);
  // Checked, then applied: the step the check took on the held state.
  const v1::Event ready = event("r", "2022-03-01T12:00:00Z", R"("dischargeReady":{})");
  auto checked = engine_->check(0, ready, at("2022-03-01T12:00:00Z"));
  ASSERT_TRUE(checked);
  EXPECT_EQ(checked.value().kind, Outcome::Kind::kApplied);
  auto applied = apply(0, ready, at("2022-03-01T12:00:00Z"));
  ASSERT_TRUE(applied);
  EXPECT_EQ(applied.value().kind, Outcome::Kind::kApplied);
  EXPECT_FALSE(applied.value().notifications.empty());
  EXPECT_EQ(engine_->episode(0, "ep1").value()->seen_keys_size(), 3);
  // A lent probe dropped (here by a write) stops the engine rather than lose the state.
  const v1::Event ward = event("w", "2022-03-01T13:00:00Z", R"("wardChanged":{"careUnit":"w2"})");
  EXPECT_DEATH(
      {
        std::filesystem::remove_all(dir_);
        (void)engine_->check(0, ward, at("2022-03-01T13:00:00Z"));
        store::Txn txn;
        (void)engine_->write(txn);
      },
      "taken by its apply");
  // Once one of its timers is due (the admission notice's deadline, a day after the assessment),
  // the check steps a copy: the timers fire first and may change the state, so the probe may go.
  const v1::Event late = event("w2", "2022-03-03T13:00:00Z", R"("wardChanged":{"careUnit":"w3"})");
  auto copied = engine_->check(0, late, at("2022-03-03T13:00:00Z"));
  ASSERT_TRUE(copied);
  EXPECT_EQ(copied.value().kind, Outcome::Kind::kApplied);
  store::Txn txn;
  ASSERT_TRUE(engine_->write(txn));  // drops the probe
  ASSERT_TRUE(engine_->episode(0, "ep1").value().has_value());
  EXPECT_EQ(engine_->episode(0, "ep1").value()->seen_keys_size(), 3);
}

TEST_P(EngineWriteBehindTest, AUnitCannotBeDropped) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ASSERT_NO_FATAL_FAILURE(hold(100));
  ASSERT_TRUE(apply(0, event("a", "2022-03-01T08:00:00Z", kAdmitted), at("2022-03-01T08:00:00Z")));
  // The death test's child runs the test from the start in a directory of its own: it removes it
  // before it stops (the open store keeps its files until then).
  EXPECT_DEATH(
      {
        std::filesystem::remove_all(dir_);
        (void)engine_->open();
      },
      "cannot be dropped");
}

INSTANTIATE_TEST_SUITE_P(OnDiskAndInMemory, EngineWriteBehindTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "InMemory" : "OnDisk";
                         });

}  // namespace
}  // namespace samordna::pipeline
