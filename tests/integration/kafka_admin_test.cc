// connectors/kafka/admin.h on the real broker (the mock cluster cannot create topics), and the
// fixture's own process helpers.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka/admin.h"
#include "connectors/kafka/client.h"
#include "tests/integration/kafka_fixture.h"

namespace samordna::kafka_test {
namespace {

using ::testing::HasSubstr;

// cleanup.policy of `topic`, read with DescribeConfigs.
std::string cleanup_policy(const std::string& bootstrap, const std::string& topic) {
  kafka::KafkaConfig config;
  config.bootstrap = bootstrap;
  auto conf = kafka::make_conf(config, {});
  if (!conf) return "error: " + conf.error().message;
  std::string detail;
  std::unique_ptr<RdKafka::Producer> client(RdKafka::Producer::create(conf.value().get(), detail));
  if (!client) return "error: " + detail;
  rd_kafka_t* rk = client->c_ptr();
  rd_kafka_ConfigResource_t* resource =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_DescribeConfigs(rk, &resource, 1, nullptr, queue);
  rd_kafka_ConfigResource_destroy(resource);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
  rd_kafka_queue_destroy(queue);
  if (event == nullptr) return "error: timeout";
  std::string policy = "error: not found";
  size_t n = 0;
  const rd_kafka_ConfigResource_t** resources =
      rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event), &n);
  for (size_t i = 0; i < n; ++i) {
    size_t entries = 0;
    const rd_kafka_ConfigEntry_t** configs =
        rd_kafka_ConfigResource_configs(resources[i], &entries);
    for (size_t j = 0; j < entries; ++j) {
      if (std::string(rd_kafka_ConfigEntry_name(configs[j])) == "cleanup.policy") {
        policy = rd_kafka_ConfigEntry_value(configs[j]);
      }
    }
  }
  rd_kafka_event_destroy(event);
  return policy;
}

class KafkaAdminIntegration : public KafkaTest {};

TEST_F(KafkaAdminIntegration, EnsureTopicsCreatesAllFiveTheChangelogAndEpisodesCompacted) {
  kafka::KafkaConfig config = unique_kafka_config(3, /*create=*/false);
  auto ensured = kafka::ensure_topics(config, 30s);
  ASSERT_TRUE(ensured) << ensured.error().message;
  for (const auto* topic :
       {&config.topics.events, &config.topics.notifications, &config.topics.deadletter,
        &config.topics.changelog, &config.topics.episodes}) {
    auto count = kafka::partition_count(config, *topic, 10s);
    ASSERT_TRUE(count) << count.error().message;
    EXPECT_EQ(count.value(), 3) << *topic;
  }
  EXPECT_EQ(cleanup_policy(bootstrap(), config.topics.changelog), "compact");
  EXPECT_EQ(cleanup_policy(bootstrap(), config.topics.episodes), "compact");
  EXPECT_EQ(cleanup_policy(bootstrap(), config.topics.events), "delete");
  ASSERT_TRUE(kafka::delete_topics(
      config,
      {config.topics.events, config.topics.notifications, config.topics.deadletter,
       config.topics.changelog, config.topics.episodes},
      30s));
}

// A name given twice (two parts of a test or a deployment naming one topic) is created and
// deleted once: librdkafka refuses such a request with an event that has no result to read. The
// same name with different settings is refused.
TEST_F(KafkaAdminIntegration, ATopicNamedTwiceIsCreatedAndDeletedOnce) {
  kafka::KafkaConfig config = unique_kafka_config(1, /*create=*/false);
  const std::string topic = unique_topic("twice");
  // The same settings twice: once. Different settings: refused, nothing created.
  auto clash = kafka::create_topics(config, {{topic, 2, true}, {topic, 3, false}}, 30s);
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code, Errc::kInvalidArgument);
  EXPECT_NE(clash.error().message.find("named twice with different settings"), std::string::npos);
  EXPECT_FALSE(kafka::partition_count(config, topic, 10s));
  ASSERT_TRUE(kafka::create_topics(config, {{topic, 2, true}, {topic, 2, true}}, 30s));
  auto count = kafka::partition_count(config, topic, 10s);
  ASSERT_TRUE(count) << count.error().message;
  EXPECT_EQ(count.value(), 2);
  EXPECT_EQ(cleanup_policy(bootstrap(), topic), "compact");
  auto deleted = kafka::delete_topics(config, {topic, topic}, 30s);
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_TRUE(kafka_test::wait_until(
      [&] {
        auto c = kafka::partition_count(config, topic, 10s);
        return !c && c.error().code == Errc::kNotFound;
      },
      30s));
}

TEST_F(KafkaAdminIntegration, ConcurrentInstancesBothSucceed) {
  kafka::KafkaConfig config = unique_kafka_config(2, /*create=*/false);
  Result<void> a = ok();
  Result<void> b = ok();
  std::thread other([&] { b = kafka::ensure_topics(config, 30s); });
  a = kafka::ensure_topics(config, 30s);
  other.join();
  EXPECT_TRUE(a) << a.error().message;
  EXPECT_TRUE(b) << b.error().message;
  EXPECT_TRUE(kafka::ensure_topics(config, 30s));  // and again: idempotent
  ASSERT_TRUE(kafka::delete_topics(
      config,
      {config.topics.events, config.topics.notifications, config.topics.deadletter,
       config.topics.changelog, config.topics.episodes},
      30s));
}

TEST_F(KafkaAdminIntegration, AnExistingEventsTopicSetsTheChangelogsPartitionCount) {
  kafka::KafkaConfig config = unique_kafka_config(2, /*create=*/false);
  create_topic(config.topics.events, 5);
  auto ensured = kafka::ensure_topics(config, 30s);
  ASSERT_TRUE(ensured) << ensured.error().message;
  EXPECT_EQ(kafka::partition_count(config, config.topics.changelog, 10s).value(), 5);
  EXPECT_EQ(kafka::partition_count(config, config.topics.notifications, 10s).value(), 2);
  ASSERT_TRUE(kafka::delete_topics(config,
                                   {config.topics.notifications, config.topics.deadletter,
                                    config.topics.changelog, config.topics.episodes},
                                   30s));
}

TEST_F(KafkaAdminIntegration, WithoutCreateTheMissingTopicsAreListed) {
  kafka::KafkaConfig config = unique_kafka_config(2, /*create=*/false);
  config.create_topics = false;
  create_topic(config.topics.events, 2);
  create_topic(config.topics.changelog, 2, /*compact=*/true);
  auto ensured = kafka::ensure_topics(config, 30s);
  ASSERT_FALSE(ensured);
  EXPECT_EQ(ensured.error().code, Errc::kNotFound);
  EXPECT_THAT(ensured.error().message,
              HasSubstr(": " + config.topics.notifications + ", " + config.topics.deadletter +
                        ", " + config.topics.episodes + " (createTopics is false"));
}

// Topics a producer knows locally (metadata for "known topics only", asked of the broker; a
// producer that knows none is answered with every topic).
std::vector<std::string> known_topics(RdKafka::Producer& producer) {
  RdKafka::Metadata* raw = nullptr;
  std::vector<std::string> names;
  if (producer.metadata(false, nullptr, &raw, 10000) != RdKafka::ERR_NO_ERROR) return {"error"};
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  for (const auto* t : *metadata->topics()) names.push_back(t->topic());
  std::sort(names.begin(), names.end());
  return names;
}

// learn_topics right after ensure_topics created them: every partition has a leader by then, and
// the producer knows the topics before its first record (so no first transaction waits for its
// topic scan); a topic the broker does not have is named.
TEST_F(KafkaAdminIntegration, AProducerLearnsNewTopicsAtOnceAndAMissingOneIsNamed) {
  kafka::KafkaConfig config = unique_kafka_config(3, /*create=*/false);
  ASSERT_TRUE(kafka::ensure_topics(config, 30s));
  auto producer = kafka::make_idempotent_producer(config);
  ASSERT_TRUE(producer) << producer.error().message;
  auto known = kafka::learn_topics(*producer.value(),
                                   {config.topics.notifications, config.topics.changelog}, 30s);
  ASSERT_TRUE(known) << known.error().message;
  EXPECT_EQ(known.value().size(), 2u);
  std::vector<std::string> expected{config.topics.notifications, config.topics.changelog};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(known_topics(*producer.value()), expected);

  auto missing = kafka::learn_topics(*producer.value(), {config.topics.events + ".missing"}, 10s);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  EXPECT_EQ(missing.error().message, "topic " + config.topics.events + ".missing does not exist");
  ASSERT_TRUE(kafka::delete_topics(
      config,
      {config.topics.events, config.topics.notifications, config.topics.deadletter,
       config.topics.changelog, config.topics.episodes},
      30s));
}

TEST_F(KafkaAdminIntegration, MismatchedChangelogIsAConflict) {
  kafka::KafkaConfig config = unique_kafka_config(2, /*create=*/false);
  create_topic(config.topics.events, 2);
  create_topic(config.topics.changelog, 3, /*compact=*/true);
  auto ensured = kafka::ensure_topics(config, 30s);
  ASSERT_FALSE(ensured);
  EXPECT_EQ(ensured.error().code, Errc::kConflict);
  ASSERT_TRUE(
      kafka::delete_topics(config, {config.topics.notifications, config.topics.deadletter}, 30s));
}

// --- The fixture's process helpers (no broker needed) --------------------------------------------

TEST(KafkaFixture, RunCommandCapturesOutputAndExitCode) {
  ProcessOptions options;
  options.input = "in\n";
  const CommandResult r =
      run_command({"/bin/sh", "-c", "cat; echo out; echo err >&2; exit 3"}, 10s, options);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "in\nout\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_FALSE(r.timed_out);
}

TEST(KafkaFixture, RunCommandKillsAtTheTimeout) {
  const auto started = std::chrono::steady_clock::now();
  const CommandResult r = run_command({"/bin/sh", "-c", "echo started; sleep 30"}, 300ms);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_EQ(r.out, "started\n");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(KafkaFixture, ProcessCanBeSignalledAndSeesItsEnvironment) {
  ProcessOptions options;
  options.env = {{"SAMORDNA_IT_VAR", "hello"}};
  Process p =
      Process::start({"/bin/sh", "-c", "echo \"$SAMORDNA_IT_VAR\"; exec sleep 30"}, options);
  EXPECT_TRUE(wait_until([&] { return p.out() == "hello\n"; }, 5s));
  EXPECT_TRUE(p.running());
  p.signal(SIGTERM);
  const CommandResult r = p.wait(5s);
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(p.running());
}

TEST(KafkaFixture, LinesOfSkipsEmptyLines) {
  EXPECT_EQ(lines_of("a\n\nb\nc"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(lines_of("").empty());
}

}  // namespace
}  // namespace samordna::kafka_test
