// check_rules_in_use (engine/pipeline/rules_in_use.h) over a real state store: which episodes
// count as in flight, and the refusal of a rule set edited in place under an id they still use.

#include "engine/pipeline/rules_in_use.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "engine/state/episode_machine.h"
#include "engine/store/episode_store.h"
#include "rules/digest.h"

namespace samordna::pipeline {
namespace {

using ::testing::HasSubstr;

rules::RuleSet set_with_grace(int grace_days) {
  rules::RuleSet s;
  s.id = "se-test";
  s.title = "test";
  s.source = "rules/test.yaml:7";
  s.valid_from = date::year{2018} / 1 / 1;
  s.liability.grace_days = grace_days;
  return s;
}

class RulesInUseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::DbOptions options;
    options.in_memory = true;
    auto opened = store::Db::open("/rules-in-use-test", options);
    ASSERT_TRUE(opened) << opened.error().message;
    db_ = std::move(opened).value();
  }

  void put(const std::string& episode, storage::v1::EpisodeState::Phase phase,
           const std::string& digest, store::PartitionId partition = 0) {
    storage::v1::EpisodeState st;
    st.set_episode_id(episode);
    st.set_phase(phase);
    st.set_rule_set_id("se-test");
    st.set_rule_set_digest(digest);
    store::Txn txn;
    store::EpisodeStore(*db_).put(txn, partition, st);
    ASSERT_TRUE(db_->write(txn));
  }

  std::unique_ptr<store::Db> db_;
  const rules::RuleBook then_{{set_with_grace(3)}};
  const rules::RuleBook now_{{set_with_grace(5)}};  // the same id, edited in place
};

TEST_F(RulesInUseTest, AnEditedSetIsRefusedWhileEpisodesAreInFlightUnderIt) {
  const std::string digest = then_.sets()[0].digest;
  put("ep-open", storage::v1::EpisodeState::OPEN, digest, 0);
  put("ep-discharged", storage::v1::EpisodeState::DISCHARGED, digest, 3);
  auto checked = check_rules_in_use(*db_, now_);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().code, Errc::kConflict);
  EXPECT_THAT(checked.error().message,
              HasSubstr("rules/test.yaml:7: rule set se-test has changed since 2 episode(s)"));
  // The unchanged book is fine.
  EXPECT_TRUE(check_rules_in_use(*db_, then_));
}

TEST_F(RulesInUseTest, SettledAndCancelledEpisodesDoNotHoldTheirSet) {
  const std::string digest = then_.sets()[0].digest;
  put("ep-closed", storage::v1::EpisodeState::CLOSED, digest);
  put("ep-cancelled", storage::v1::EpisodeState::CANCELLED, digest);
  EXPECT_TRUE(check_rules_in_use(*db_, now_));
}

TEST_F(RulesInUseTest, AnEmptyStateAndOldRecordsPass) {
  EXPECT_TRUE(check_rules_in_use(*db_, now_));
  put("ep-old", storage::v1::EpisodeState::OPEN, "");  // written before digests were kept
  EXPECT_TRUE(check_rules_in_use(*db_, now_));
}

TEST_F(RulesInUseTest, TheEpisodeMachinePinsTheDigestAtAdmission) {
  // What apply_event keeps with the episode is what this check reads.
  v1::Event admitted;
  admitted.set_event_id("e1");
  admitted.set_episode_id("ep1");
  admitted.mutable_occurred_at()->set_seconds(1646121600);  // 2022-03-01T08:00:00Z
  auto* a = admitted.mutable_admitted();
  a->mutable_patient()->set_personal_id("195704289999");
  a->mutable_patient()->set_home_municipality("0380");
  a->set_care_unit("ward-7");
  a->set_region("03");
  a->set_care_type(v1::SOMATIC);
  auto step = state::apply_event(nullptr, admitted, then_, from_unix(1646121600));
  ASSERT_TRUE(step) << step.error().reason;
  EXPECT_EQ(step.value().next.rule_set_id(), "se-test");
  EXPECT_EQ(step.value().next.rule_set_digest(), then_.sets()[0].digest);
}

}  // namespace
}  // namespace samordna::pipeline
