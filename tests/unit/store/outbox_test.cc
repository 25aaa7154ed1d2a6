// The delivery outbox (engine/store/outbox.h): entries and offsets in one write, survive a reopen,
// key order is (endpoint, episode, partition, offset), bury and revive move entries between pending
// and dead, disabled endpoints persist.

#include "engine/store/outbox.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace samordna::store {
namespace {

class StoreOutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("samordna-outbox-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static v1::OutboxEntry entry(const std::string& endpoint, const std::string& episode,
                               int64_t offset, const std::string& id) {
    v1::OutboxEntry e;
    e.set_endpoint(endpoint);
    e.set_episode_id(episode);
    e.set_partition(1);
    e.set_offset(offset);
    e.set_notification_id(id);
    e.set_notification("bytes-" + id);
    return e;
  }
  std::filesystem::path dir_;
};

TEST_F(StoreOutboxTest, EntriesAndOffsetsSurviveAReopenInKeyOrder) {
  {
    auto o = DeliveryOutbox::open(dir_);
    ASSERT_TRUE(o) << o.error().message;
    ASSERT_TRUE(o.value()->add({entry("b", "ep-1", 7, "n7"), entry("a", "ep-2", 300, "n300"),
                                entry("a", "ep-2", 20, "n20"), entry("a", "ep-1", 5, "n5")},
                               {{{"samordna.notifications", 1}, 301}}));
  }
  auto o = DeliveryOutbox::open(dir_);
  ASSERT_TRUE(o) << o.error().message;
  auto pending = o.value()->pending();
  ASSERT_TRUE(pending);
  std::vector<std::string> ids;
  for (const auto& e : pending.value()) ids.push_back(e.notification_id());
  // Offsets compare as numbers (20 before 300), not as text.
  EXPECT_EQ(ids, (std::vector<std::string>{"n5", "n20", "n300", "n7"}));
  auto offsets = o.value()->offsets();
  ASSERT_TRUE(offsets);
  ASSERT_EQ(offsets.value().size(), 1u);
  EXPECT_EQ((offsets.value().at({"samordna.notifications", 1})), 301);
}

TEST_F(StoreOutboxTest, ReAddingTheSameEntryKeepsOneCopy) {
  auto o = DeliveryOutbox::open(dir_).value();
  ASSERT_TRUE(o->add({entry("a", "ep-1", 5, "n5")}, {}));
  ASSERT_TRUE(o->add({entry("a", "ep-1", 5, "n5")}, {}));
  EXPECT_EQ(o->pending().value().size(), 1u);
}

TEST_F(StoreOutboxTest, UpdateRemoveBuryRevive) {
  auto o = DeliveryOutbox::open(dir_).value();
  auto a = entry("a", "ep-1", 5, "n5");
  auto b = entry("a", "ep-1", 6, "n6");
  auto c = entry("b", "ep-1", 5, "n5");
  ASSERT_TRUE(o->add({a, b, c}, {}));
  a.set_attempts(3);
  a.set_next_attempt_unix(1234);
  ASSERT_TRUE(o->update(a));
  EXPECT_EQ(o->pending().value().front().attempts(), 3);
  ASSERT_TRUE(o->remove(b));
  a.set_dead_code("exhausted");
  ASSERT_TRUE(o->bury(a));
  c.set_dead_code("rejected");
  ASSERT_TRUE(o->bury(c));
  EXPECT_EQ(o->pending().value().size(), 0u);
  EXPECT_EQ(o->dead().value().size(), 2u);

  // Only endpoint b's dead letter of n5, with the replay topic's offset in the same write.
  auto revived = o->revive("n5", "b", {{{"samordna.delivery.replay", 0}, 9}});
  ASSERT_TRUE(revived);
  ASSERT_EQ(revived.value().size(), 1u);
  EXPECT_EQ(revived.value()[0].endpoint(), "b");
  EXPECT_EQ(revived.value()[0].attempts(), 0);
  EXPECT_TRUE(revived.value()[0].dead_code().empty());
  EXPECT_EQ(o->pending().value().size(), 1u);
  EXPECT_EQ((o->offsets().value().at({"samordna.delivery.replay", 0})), 9);
  // A prefix of another id does not match: "n" is not "n5".
  EXPECT_EQ(o->revive("n", "", {}).value().size(), 0u);
  EXPECT_EQ(o->revive("", "", {}).value().size(), 1u);  // all dead
  EXPECT_EQ(o->dead().value().size(), 0u);
}

TEST_F(StoreOutboxTest, DisabledEndpointsPersist) {
  {
    auto o = DeliveryOutbox::open(dir_).value();
    ASSERT_TRUE(o->set_disabled("gone", true, {}));
    ASSERT_TRUE(o->set_disabled("back", true, {}));
    ASSERT_TRUE(o->set_disabled("back", false, {}));
  }
  auto o = DeliveryOutbox::open(dir_).value();
  EXPECT_EQ(o->disabled().value(), (std::set<std::string>{"gone"}));
}

TEST_F(StoreOutboxTest, ASecondOpenIsRefusedWhileTheFirstHoldsTheDir) {
  auto first = DeliveryOutbox::open(dir_);
  ASSERT_TRUE(first);
  auto second = DeliveryOutbox::open(dir_);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find(dir_.string()), std::string::npos);
}

}  // namespace
}  // namespace samordna::store
