// ensure_topics and partition_count against librdkafka's in-process mock cluster. The 2.0.2 mock
// answers Metadata but has no controller, so it cannot create topics: creation is covered by the
// integration tests on a real broker (tests/integration/kafka_admin_test.cc); here the topics are
// made with rd_kafka_mock_topic_create.

#include "connectors/kafka/admin.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>

#include "tests/unit/kafka/mock_cluster.h"

namespace samordna::kafka {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

using testing::MockCluster;

class KafkaAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.bootstrap = cluster_.bootstrap();
    config_.partitions = 3;
  }
  void create_all(int events, int changelog) {
    cluster_.create_topic(config_.topics.events, events);
    cluster_.create_topic(config_.topics.notifications, 2);
    cluster_.create_topic(config_.topics.deadletter, 1);
    cluster_.create_topic(config_.topics.changelog, changelog);
    cluster_.create_topic(config_.topics.episodes, events);
  }

  MockCluster cluster_;
  KafkaConfig config_;
};

TEST_F(KafkaAdminTest, ExistingTopicsWithMatchingPartitionsAreFine) {
  create_all(3, 3);
  auto result = ensure_topics(config_, 5s);
  EXPECT_TRUE(result) << result.error().message;
}

TEST_F(KafkaAdminTest, MissingTopicsAreListedExactlyWhenCreationIsOff) {
  cluster_.create_topic(config_.topics.events, 3);
  cluster_.create_topic(config_.topics.deadletter, 3);
  config_.create_topics = false;
  auto result = ensure_topics(config_, 5s);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::kNotFound);
  EXPECT_THAT(
      result.error().message,
      HasSubstr("missing Kafka topic(s) at " + config_.bootstrap +
                ": samordna.notifications, samordna.changelog, samordna.episodes (createTopics is "
                "false"));
  EXPECT_THAT(result.error().message, Not(HasSubstr("samordna.deadletter")));
}

TEST_F(KafkaAdminTest, ChangelogWithOtherPartitionCountThanEventsIsAConflict) {
  create_all(3, 2);
  auto result = ensure_topics(config_, 5s);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::kConflict);
  EXPECT_THAT(result.error().message,
              HasSubstr("changelog topic samordna.changelog has 2 partition(s) but events topic "
                        "samordna.events has 3"));
}

// The mock cannot create topics; what matters here is that the call stays within its timeout.
TEST_F(KafkaAdminTest, CreatingIsBoundedByTheTimeout) {
  cluster_.create_topic(config_.topics.events, 3);
  const auto started = std::chrono::steady_clock::now();
  auto result = ensure_topics(config_, 2s);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, 5s);
  if (result) {
    auto changelog = partition_count(config_, config_.topics.changelog, 2s);
    ASSERT_TRUE(changelog) << changelog.error().message;
    EXPECT_EQ(changelog.value(), 3);
  } else {
    EXPECT_EQ(result.error().code, Errc::kUnavailable) << result.error().message;
  }
}

TEST_F(KafkaAdminTest, PartitionCountOfExistingAndMissingTopics) {
  cluster_.create_topic("counted", 5);
  auto count = partition_count(config_, "counted", 5s);
  ASSERT_TRUE(count) << count.error().message;
  EXPECT_EQ(count.value(), 5);
  auto missing = partition_count(config_, "absent", 5s);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  EXPECT_THAT(missing.error().message, HasSubstr("absent"));
}

TEST_F(KafkaAdminTest, ListTopicsReportsPartitionCounts) {
  cluster_.create_topic("a", 1);
  cluster_.create_topic("b", 4);
  auto topics = list_topics(config_, 5s);
  ASSERT_TRUE(topics) << topics.error().message;
  EXPECT_EQ(topics.value().at("a"), 1);
  EXPECT_EQ(topics.value().at("b"), 4);
}

TEST(KafkaAdmin, UnreachableBrokerIsUnavailableWithinTheTimeout) {
  KafkaConfig config;
  config.bootstrap = "127.0.0.1:1";
  const auto started = std::chrono::steady_clock::now();
  auto result = ensure_topics(config, 2s);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::kUnavailable);
  EXPECT_EQ(result.error().message, "cannot reach Kafka at 127.0.0.1:1 within 2 s");
  EXPECT_GE(took, 1500ms);
  EXPECT_LT(took, 4s);

  auto count = partition_count(config, "x", 500ms);
  ASSERT_FALSE(count);
  EXPECT_EQ(count.error().message, "cannot reach Kafka at 127.0.0.1:1 within 0.5 s");
}

TEST(KafkaAdmin, BadPropertyIsAnInvalidArgumentBeforeAnyNetwork) {
  KafkaConfig config;
  config.properties = {{"no.such.property", "x"}};
  auto result = ensure_topics(config, 2s);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::kInvalidArgument);
  EXPECT_THAT(result.error().message, HasSubstr("no.such.property"));
}

}  // namespace
}  // namespace samordna::kafka
