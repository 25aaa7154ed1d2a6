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

namespace samordna::kafka {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

// A one-broker mock cluster, owned by a producer handle made only to host it.
class MockCluster {
 public:
  MockCluster() {
    char detail[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", detail, sizeof detail) !=
        RD_KAFKA_CONF_OK) {
      ADD_FAILURE() << detail;
    }
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, detail, sizeof detail);
    if (rk_ == nullptr) ADD_FAILURE() << detail;
    cluster_ = rd_kafka_handle_mock_cluster(rk_);
  }
  ~MockCluster() { rd_kafka_destroy(rk_); }
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  void create_topic(const std::string& name, int partitions) {
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

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
