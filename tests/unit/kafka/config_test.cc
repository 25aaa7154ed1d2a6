#include "connectors/kafka/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace samordna::kafka {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class KafkaConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("samordna-kafka-config-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `text` to a file in the test's directory and returns its path.
  std::filesystem::path write(const std::string& text, const std::string& name = "samordna.yaml") {
    const auto path = dir_ / name;
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(KafkaConfigTest, ReadsEveryKey) {
  const auto path = write(R"(# a comment
kafka:
  bootstrap: broker1:9092,broker2:9092
  groupId: samordna-prod
  instanceId: node-a
  createTopics: false
  partitions: 12
  replicationFactor: 3
  topics:
    events: in.events
    notifications: out.notifications
    deadletter: out.deadletter
    changelog: state.changelog
    episodes: out.episodes
  properties:
    security.protocol: SASL_SSL
    linger.ms: 5
    enable.ssl.certificate.verification: false
stateDir: state
rulesDir: /opt/samordna/rules
clock: event-time
until: 2025-12-31T23:00:00Z
maxBatch: 500
maxBatchMs: 50
timerPass: 200
transactionTimeoutMs: 60000
retentionDays: 90
metricsPort: 9464
metricsAddress: 127.0.0.1
writeBehindEpisodes: 5000
writeBehindSeconds: 30
)");
  auto loaded = load_service_config(path);
  ASSERT_TRUE(loaded) << loaded.error().message;
  const ServiceConfig& c = loaded.value();
  EXPECT_EQ(c.kafka.bootstrap, "broker1:9092,broker2:9092");
  EXPECT_EQ(c.kafka.group_id, "samordna-prod");
  EXPECT_EQ(c.kafka.instance_id, "node-a");
  EXPECT_FALSE(c.kafka.create_topics);
  EXPECT_EQ(c.kafka.partitions, 12);
  EXPECT_EQ(c.kafka.replication_factor, 3);
  EXPECT_EQ(c.kafka.topics.events, "in.events");
  EXPECT_EQ(c.kafka.topics.notifications, "out.notifications");
  EXPECT_EQ(c.kafka.topics.deadletter, "out.deadletter");
  EXPECT_EQ(c.kafka.topics.changelog, "state.changelog");
  EXPECT_EQ(c.kafka.topics.episodes, "out.episodes");
  const std::map<std::string, std::string> properties = {
      {"security.protocol", "SASL_SSL"},
      {"linger.ms", "5"},
      {"enable.ssl.certificate.verification", "false"}};
  EXPECT_EQ(c.kafka.properties, properties);
  EXPECT_EQ(c.state_dir, dir_ / "state");  // relative to the file's folder
  EXPECT_EQ(c.rules_dir, "/opt/samordna/rules");
  EXPECT_EQ(c.clock, ClockMode::kEventTime);
  EXPECT_EQ(c.until_unix, std::optional<int64_t>(1767222000));
  EXPECT_EQ(c.max_batch, 500u);
  EXPECT_EQ(c.max_batch_ms, 50);
  EXPECT_EQ(c.timer_pass, 200u);
  EXPECT_EQ(c.transaction_timeout_ms, 60000);
  EXPECT_EQ(c.retention, std::chrono::hours{24 * 90});
  EXPECT_EQ(c.metrics_port, 9464);
  EXPECT_EQ(c.metrics_address, "127.0.0.1");
  EXPECT_EQ(c.write_behind_episodes, 5000u);
  EXPECT_EQ(c.write_behind_seconds, std::chrono::seconds{30});
}

TEST_F(KafkaConfigTest, EmptyFileGivesTheDefaults) {
  auto loaded = load_service_config(write("# nothing set\n"));
  ASSERT_TRUE(loaded) << loaded.error().message;
  const ServiceConfig defaults;
  EXPECT_EQ(loaded.value().kafka.bootstrap, defaults.kafka.bootstrap);
  EXPECT_EQ(loaded.value().kafka.topics.events, "samordna.events");
  EXPECT_EQ(loaded.value().state_dir, defaults.state_dir);
  EXPECT_EQ(loaded.value().clock, ClockMode::kWall);
  EXPECT_EQ(loaded.value().kafka.topics.episodes, "samordna.episodes");
  EXPECT_EQ(loaded.value().retention, std::chrono::hours{24 * 30});
  EXPECT_TRUE(loaded.value().kafka.instance_id.empty());  // the caller fills it
  EXPECT_EQ(loaded.value().metrics_port, 0);              // no metrics endpoint unless asked for
  EXPECT_EQ(loaded.value().write_behind_episodes, 20000u);
  EXPECT_EQ(loaded.value().write_behind_seconds, std::chrono::seconds{10});
}

TEST_F(KafkaConfigTest, UnknownKeyIsAnErrorWithFileAndLine) {
  const auto path = write("kafka:\n  bootstrap: b:9092\n  grupId: x\n");
  auto loaded = load_service_config(path);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, Errc::kInvalidArgument);
  EXPECT_THAT(loaded.error().message,
              AllOf(StartsWith(path.string() + ":3: unknown key 'grupId' in kafka"),
                    HasSubstr("known keys: bootstrap, groupId")));
}

TEST_F(KafkaConfigTest, SnakeCaseKeyGetsASuggestion) {
  const auto path = write("stateDir: s\nmax_batch: 10\n");
  auto loaded = load_service_config(path);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message,
            path.string() + ":2: unknown key 'max_batch' in the file (did you mean 'maxBatch'?)");
}

TEST_F(KafkaConfigTest, WrongTypesAreErrorsEachWithItsLine) {
  const auto path = write(R"(kafka:
  partitions: four
  createTopics: 3
  topics: [a, b]
clock: sometimes
maxBatch: "10"
transactionTimeoutMs: 10
stateDir: {a: 1}
writeBehindEpisodes: -1
writeBehindSeconds: 0
)");
  auto loaded = load_service_config(path);
  ASSERT_FALSE(loaded);
  const std::string& m = loaded.error().message;
  const std::string f = path.string();
  EXPECT_THAT(m, HasSubstr(f + ":2: 'partitions' must be a whole number from 1 to 10000"));
  EXPECT_THAT(m, HasSubstr(f + ":3: 'createTopics' must be true or false"));
  EXPECT_THAT(m, HasSubstr(f + ":4: 'topics' must be a mapping"));
  EXPECT_THAT(m, HasSubstr(f + ":5: 'clock' must be wall or event-time"));
  EXPECT_THAT(m, HasSubstr(f + ":6: 'maxBatch' must be a whole number"));  // quoted: a string
  EXPECT_THAT(m, HasSubstr(f + ":7: 'transactionTimeoutMs' must be a whole number from 1000"));
  EXPECT_THAT(m, HasSubstr(f + ":8: 'stateDir' must be a single value"));
  EXPECT_THAT(m,
              HasSubstr(f + ":9: 'writeBehindEpisodes' must be a whole number from 0 to 10000000"));
  EXPECT_THAT(m, HasSubstr(f + ":10: 'writeBehindSeconds' must be a whole number from 1 to 3600"));
}

TEST_F(KafkaConfigTest, BatchTimeMustLeaveMarginBelowTheTransactionTimeout) {
  auto tight = load_service_config(write("maxBatchMs: 3000\ntransactionTimeoutMs: 5000\n"));
  ASSERT_FALSE(tight);
  EXPECT_THAT(tight.error().message,
              HasSubstr(":1: 'maxBatchMs' (3000) must be at most half of 'transactionTimeoutMs' "
                        "(5000)"));
  auto fine = load_service_config(write("maxBatchMs: 2500\ntransactionTimeoutMs: 5000\n"));
  ASSERT_TRUE(fine) << fine.error().message;
  EXPECT_EQ(fine.value().max_batch_ms, 2500);
}

TEST_F(KafkaConfigTest, UntilNeedsEventTimeAndRfc3339) {
  auto wall = load_service_config(write("until: 2025-12-31T23:00:00Z\n"));
  ASSERT_FALSE(wall);
  EXPECT_THAT(wall.error().message, HasSubstr(":1: 'until' applies to clock: event-time only"));
  auto bad = load_service_config(write("clock: event-time\nuntil: next tuesday\n"));
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr(":2: 'until' must be an RFC 3339 time"));
}

TEST_F(KafkaConfigTest, TopicsMustBeValidAndDistinct) {
  auto loaded = load_service_config(write(R"(kafka:
  topics:
    events: same
    changelog: same
    deadletter: "not a name"
)"));
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error().message, HasSubstr(":5: topic name 'not a name' is not a valid"));
  EXPECT_THAT(loaded.error().message, HasSubstr("topics 'events' and 'changelog' are both 'same'"));
}

TEST_F(KafkaConfigTest, PropertiesTheConfigOwnsAreRejected) {
  auto loaded = load_service_config(write(R"(kafka:
  properties:
    bootstrap.servers: x:1
    transactional.id: t
)"));
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error().message,
              HasSubstr(":3: set 'bootstrap.servers' with 'kafka.bootstrap'"));
  EXPECT_THAT(loaded.error().message,
              HasSubstr(":4: set 'transactional.id' with 'kafka.instanceId'"));
}

TEST_F(KafkaConfigTest, PropertyValuesAreNeverQuotedInErrors) {
  auto loaded = load_service_config(write(R"(kafka:
  properties:
    sasl.password: [hunter2secret]
)"));
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error().message, AllOf(HasSubstr(":3: the value of property 'sasl.password'"),
                                            Not(HasSubstr("hunter2secret"))));
}

TEST_F(KafkaConfigTest, DuplicateKeyAndSyntaxErrorsHaveLines) {
  auto dup = load_service_config(write("maxBatch: 1\nmaxBatch: 2\n"));
  ASSERT_FALSE(dup);
  EXPECT_THAT(dup.error().message,
              HasSubstr(":2: duplicate key 'maxBatch' in the file (first at line 1)"));
  auto syntax = load_service_config(write("kafka:\n  bootstrap: [x\n"));
  ASSERT_FALSE(syntax);
  EXPECT_THAT(syntax.error().message, HasSubstr("YAML syntax error"));
}

// TimeUtil::FromString used to abort the process (a protobuf CHECK) on an offset that takes the
// instant past year 9999; it is a line-numbered error like any other bad time.
TEST_F(KafkaConfigTest, UntilPastYear9999IsAnError) {
  auto loaded = load_service_config(write("clock: event-time\nuntil: 9999-12-31T23:59:59-23:59\n"));
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error().message, HasSubstr(":2: 'until' must be an RFC 3339 time"));
}

// The text entry point (tests/fuzz/) reads as the file reader does, relative paths included.
TEST(KafkaConfigText, ParsesContentAsTheFileReaderDoes) {
  auto loaded = parse_service_config("stateDir: s\nmaxBatch: 7\n", "/etc/samordna/samordna.yaml");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded.value().state_dir, std::filesystem::path("/etc/samordna/s"));
  EXPECT_EQ(loaded.value().max_batch, 7u);
  auto bad = parse_service_config("kafka: {group_id: x}\n", "mem.yaml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "mem.yaml:1: unknown key 'group_id' in kafka (did you mean 'groupId'?)");
}

// Found by tests/fuzz/ (fuzz_service_config): a stray ',' made yaml-cpp's LoadAll loop forever.
TEST(KafkaConfigText, AStrayCommaIsASyntaxErrorNotAHang) {
  auto loaded = parse_service_config("maxBatch: 5\n,\n", "mem.yaml");
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error().message, HasSubstr("YAML syntax error"));
  auto alone = parse_service_config(",", "mem.yaml");
  ASSERT_FALSE(alone);
  EXPECT_THAT(alone.error().message, StartsWith("mem.yaml:1: YAML syntax error"));
}

// Found by tests/fuzz/ (fuzz_service_config): a broken line above `properties` folds the lines
// below it, password included, into one plain scalar key, which the unknown-key error quoted.
TEST(KafkaConfigText, AFoldedKeyIsNotQuoted) {
  // The fuzzer's input as it found it.
  auto loaded = parse_service_config(
      "kafka:\n"
      "  bootstrap: b:9092\n"
      "  groukafka:\n"
      "!\"topics: dw\n"
      " a)teTopics: false\n"
      " p atime\xe4"
      "\xff"
      "\xff"
      "\xff"
      "\xff"
      "\xff"
      "\xff"
      "\x7f"
      "\n"
      "  s properties:\n"
      "    sasl.password: hunter2secret\n"
      "    security.protocol:trans SASL_SSLecurity.protocol: SASL_SSL\n",
      "mem.yaml");
  ASSERT_FALSE(loaded);
  EXPECT_THAT(loaded.error().message, Not(HasSubstr("hunter2secret")));
  EXPECT_THAT(loaded.error().message, HasSubstr("not shown"));
}

TEST_F(KafkaConfigTest, MissingFileIsAnIoError) {
  auto loaded = load_service_config(dir_ / "absent.yaml");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code, Errc::kIo);
}

TEST(KafkaConfigExample, TheShippedExampleLoadsAndMakesAConf) {
  const std::filesystem::path example =
      std::filesystem::path(SAMORDNA_SOURCE_DIR) / "deploy/config/samordna.yaml";
  auto loaded = load_service_config(example);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded.value().kafka.bootstrap, "127.0.0.1:19092");
  EXPECT_EQ(loaded.value().rules_dir,
            (std::filesystem::path(SAMORDNA_SOURCE_DIR) / "rules/sets").lexically_normal());
  auto conf = make_conf(loaded.value().kafka, {});
  EXPECT_TRUE(conf) << conf.error().message;
}

TEST(KafkaMakeConf, SetsBootstrapThenConfigPropertiesThenPerClientOnes) {
  KafkaConfig config;
  config.bootstrap = "broker:9092";
  config.properties = {{"linger.ms", "5"}, {"client.id", "from-config"}};
  auto conf = make_conf(config, {{"linger.ms", "7"}});
  ASSERT_TRUE(conf) << conf.error().message;
  std::string value;
  ASSERT_EQ(conf.value()->get("bootstrap.servers", value), RdKafka::Conf::CONF_OK);
  EXPECT_EQ(value, "broker:9092");
  ASSERT_EQ(conf.value()->get("client.id", value), RdKafka::Conf::CONF_OK);
  EXPECT_EQ(value, "from-config");
  ASSERT_EQ(conf.value()->get("linger.ms", value), RdKafka::Conf::CONF_OK);
  EXPECT_EQ(value, "7");  // the per-client property wins
}

TEST(KafkaMakeConf, UnknownPropertyIsNamedButItsValueIsNot) {
  KafkaConfig config;
  config.properties = {{"sasl.passwrd", "hunter2secret"}};
  auto conf = make_conf(config, {});
  ASSERT_FALSE(conf);
  EXPECT_EQ(conf.error().code, Errc::kInvalidArgument);
  EXPECT_THAT(conf.error().message,
              AllOf(HasSubstr("unknown Kafka property 'sasl.passwrd'"), Not(HasSubstr("hunter2"))));
}

TEST(KafkaMakeConf, BadValueIsNamedButNotEchoed) {
  auto conf = make_conf(KafkaConfig{}, {{"linger.ms", "hunter2secret"}});
  ASSERT_FALSE(conf);
  EXPECT_THAT(conf.error().message, AllOf(HasSubstr("invalid value for Kafka property 'linger.ms'"),
                                          Not(HasSubstr("hunter2"))));
}

TEST(KafkaInstanceId, HostNameAndAStableHashOfTheStateDir) {
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  const std::string id = default_instance_id("some/state");
  EXPECT_THAT(id, StartsWith(std::string(host) + "-"));
  EXPECT_EQ(id.size(), std::string(host).size() + 9);
  EXPECT_EQ(id, default_instance_id("some/state"));
  EXPECT_EQ(id, default_instance_id("./some/state/"));
  EXPECT_EQ(id, default_instance_id(std::filesystem::current_path() / "some/state"));
  EXPECT_NE(id, default_instance_id("other/state"));
}

TEST(KafkaClockMode, NamesAsInTheFile) {
  EXPECT_STREQ(clock_mode_name(ClockMode::kWall), "wall");
  EXPECT_STREQ(clock_mode_name(ClockMode::kEventTime), "event-time");
}

TEST(KafkaTestStops, ReadsEachTransactionAndPlace) {
  auto stops = parse_test_stops("1:commit,3:begun,12:flushed");
  ASSERT_TRUE(stops) << stops.error().message;
  ASSERT_EQ(stops.value().size(), 3u);
  EXPECT_EQ(stops.value()[0].transaction, 1);
  EXPECT_EQ(stops.value()[0].where, TestStop::Where::kCommit);
  EXPECT_EQ(stops.value()[1].transaction, 3);
  EXPECT_EQ(stops.value()[1].where, TestStop::Where::kBegun);
  EXPECT_EQ(stops.value()[2].transaction, 12);
  EXPECT_EQ(stops.value()[2].where, TestStop::Where::kFlushed);
  auto none = parse_test_stops("");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none.value().empty());
}

TEST(KafkaTestStops, NamesTheEntryThatIsNotATransactionAndAPlace) {
  for (const char* bad : {"3", "0:commit", "-1:commit", "x:commit", "3:commit,", ",3:commit",
                          "3x:commit", "3:flush", "3:commit:commit", ":commit", "3:"}) {
    auto stops = parse_test_stops(bad);
    ASSERT_FALSE(stops) << bad;
    EXPECT_THAT(stops.error().message, HasSubstr("SAMORDNA_TEST_STOPS: '")) << bad;
  }
  EXPECT_THAT(parse_test_stops("2:begun,3:flush").error().message,
              HasSubstr("'3:flush' is not N:begun, N:commit or N:flushed"));
}

}  // namespace
}  // namespace samordna::kafka
