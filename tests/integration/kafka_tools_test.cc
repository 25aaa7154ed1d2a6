// samordna produce / consume against the real broker: the binary as a user runs it.

#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "connectors/kafka/codec.h"
#include "samordna/v1/event.pb.h"
#include "samordna/v1/notification.pb.h"
#include "tests/integration/kafka_fixture.h"

namespace samordna::kafka_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Canonical protobuf JSON (field order, lowerCamelCase, no defaults), so they must come back
// byte for byte. Names and personal identity numbers are synthetic.
const std::vector<std::string> kEvents = {
    R"({"eventId":"e1","episodeId":"it-ep-1","occurredAt":"2025-03-03T07:15:00Z","admitted":{"patient":{"personalId":"191212121212","name":"Tolvan Tolvansson","address":"Storgatan 1, 111 22 Stockholm","homeMunicipality":"0180"},"careUnit":"avd-1","region":"01","careType":"SOMATIC"}})",
    R"({"eventId":"e2","episodeId":"it-ep-1","occurredAt":"2025-03-03T09:00:00Z","needsAssessed":{"needs":["SOCIAL_SERVICES","MUNICIPAL_HEALTH_CARE"],"outpatientUnit":"vc-1","estimatedDischargeAt":"2025-03-10T10:00:00Z"}})",
    R"({"eventId":"e3","episodeId":"it-ep-2","occurredAt":"2025-03-03T10:00:00Z","recordedAt":"2025-03-03T10:05:00Z","admitted":{"patient":{"personalId":"200001012384","name":"Åsa Öberg","address":"Väggatan 2","homeMunicipality":"1480"},"careUnit":"avd-2","region":"14","careType":"PSYCHIATRIC"}})",
    R"({"eventId":"e4","episodeId":"it-ep-1","occurredAt":"2025-03-05T12:00:00Z","dischargeReady":{}})",
    R"({"eventId":"e5","episodeId":"it-ep-3","occurredAt":"2025-03-06T12:00:00Z","consentRecorded":{"scope":"INFORMATION_SHARING","granted":true}})",
    R"({"eventId":"e6","episodeId":"it-ep-2","occurredAt":"2025-03-07T12:00:00Z","discharged":{"reason":"hem"}})",
};

const std::vector<std::string> kNotifications = {
    R"({"notificationId":"n1","episodeId":"it-ep-1","issuedAt":"2025-03-03T09:00:00Z","admissionNotice":{"recipient":{"service":"SOCIAL_SERVICES","unit":"0180"},"patient":{"personalId":"191212121212","name":"Tolvan Tolvansson","address":"Storgatan 1, 111 22 Stockholm","homeMunicipality":"0180"},"careUnit":"avd-1","admittedAt":"2025-03-03T07:15:00Z","needs":["SOCIAL_SERVICES"]}})",
    R"({"notificationId":"n2","episodeId":"it-ep-1","issuedAt":"2025-03-04T07:15:01Z","deadlineMissed":{"deadline":"ADMISSION_NOTICE","dueAt":"2025-03-04T07:15:00Z","responsible":{"role":"INPATIENT_CARE","unit":"avd-1"},"dueLocal":"2025-03-04T08:15:00+01:00"}})",
    R"({"notificationId":"n3","episodeId":"it-ep-2","issuedAt":"2025-03-05T00:00:00Z","warning":{"code":"CONSENT_WITHDRAWN","to":{"role":"OUTPATIENT_CARE","unit":"vc-1"}}})",
};

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

Record record(const std::string& topic, std::optional<std::string> key, std::string value) {
  Record r;
  r.topic = topic;
  r.key = std::move(key);
  r.value = std::move(value);
  return r;
}

ReadOptions to_end(const std::string& isolation_level = "read_committed") {
  ReadOptions options;
  options.stop_at_end = true;
  options.isolation_level = isolation_level;
  return options;
}

kafka::KafkaConfig on(const std::string& bootstrap) {
  kafka::KafkaConfig config;
  config.bootstrap = bootstrap;
  return config;
}

template <class Message>
std::string binary_of(const std::string& json) {
  Message m;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &m);
  EXPECT_TRUE(status.ok()) << status.message();
  return m.SerializeAsString();
}

template <class Message>
std::string canonical(const std::string& json) {
  Message m;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &m).ok());
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &out).ok());
  return out;
}

// The JSON objects among `text`'s lines (librdkafka's log lines may share stderr).
std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  for (const auto& line : lines_of(text)) {
    if (!line.empty() && line[0] == '{') out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

class KafkaTools : public KafkaTest {
 protected:
  CommandResult samordna(std::vector<std::string> args, std::chrono::milliseconds timeout = 60s) {
    args.insert(args.begin(), samordna_binary());
    return run_command(args, timeout);
  }

  CommandResult produce(const std::string& topic, const std::string& file) {
    return samordna({"produce", "--bootstrap", bootstrap(), "--topic", topic, "--file", file});
  }

  std::vector<Record> notification_records(const std::string& topic,
                                           const std::vector<std::string>& json) {
    std::vector<Record> records;
    for (const auto& j : json) {
      nlohmann::json parsed = nlohmann::json::parse(j);
      records.push_back(
          record(topic, parsed["episodeId"].get<std::string>(), binary_of<v1::Notification>(j)));
    }
    return records;
  }

  TempDir dir_;
};

TEST_F(KafkaTools, TestEventsAreCanonicalJson) {
  for (const auto& e : kEvents) EXPECT_EQ(canonical<v1::Event>(e), e);
  for (const auto& n : kNotifications) EXPECT_EQ(canonical<v1::Notification>(n), n);
}

TEST_F(KafkaTools, ProducedEventsComeBackExactlyKeyedAndPartitionedLikeJava) {
  const std::string topic = unique_topic("events");
  create_topic(topic, 3);
  const auto file = write_file(dir_.path() / "events.jsonl", join_lines(kEvents));

  const CommandResult produced = produce(topic, file.string());
  ASSERT_EQ(produced.exit_code, 0) << produced.describe();
  EXPECT_TRUE(json_lines(produced.err).empty()) << produced.err;

  const CommandResult consumed =
      samordna({"consume", "--bootstrap", bootstrap(), "--topic", topic, "--type", "event",
                "--from-beginning", "--timeout-ms", "3000"});
  ASSERT_EQ(consumed.exit_code, 0) << consumed.describe();
  const std::vector<std::string> lines = lines_of(consumed.out);
  EXPECT_EQ(sorted(lines), sorted(kEvents));

  auto records = read_topic(bootstrap(), topic, to_end());
  ASSERT_TRUE(records) << records.error().message;
  ASSERT_EQ(records.value().size(), kEvents.size());
  std::map<std::string, std::vector<std::string>> per_episode;  // event ids in log order
  for (const Record& r : records.value()) {
    v1::Event event;
    ASSERT_TRUE(event.ParseFromString(r.value));
    ASSERT_TRUE(r.key.has_value());
    EXPECT_EQ(*r.key, event.episode_id());
    EXPECT_EQ(r.partition, kafka::java_partition(*r.key, 3)) << *r.key;
    per_episode[event.episode_id()].push_back(event.event_id());
  }
  // One episode lives on one partition, so its events keep the file's order.
  EXPECT_EQ(per_episode["it-ep-1"], (std::vector<std::string>{"e1", "e2", "e4"}));
  EXPECT_EQ(per_episode["it-ep-2"], (std::vector<std::string>{"e3", "e6"}));
}

TEST_F(KafkaTools, BadLineExitsOneWithADigitFreeReasonAndTheGoodLinesAreSent) {
  const std::string topic = unique_topic("events");
  create_topic(topic, 1);
  const std::string bad =
      R"({"eventId":"e9","episodeId":"it-ep-9","admitted":{"patient":{"personalId":191212121212,"name":"Tolvan"}}})";
  const std::string truncated = R"({"eventId":"e8","episodeId":"it-ep-8","personalId":"1912121212)";
  const auto file = write_file(dir_.path() / "events.jsonl",
                               kEvents[0] + "\n" + bad + "\n\n" + truncated + "\n" + kEvents[3]);

  const CommandResult produced = produce(topic, file.string());
  EXPECT_EQ(produced.exit_code, 1) << produced.describe();
  const auto reports = json_lines(produced.err);
  ASSERT_EQ(reports.size(), 2u) << produced.err;
  EXPECT_EQ(reports[0]["line"], 2);
  EXPECT_EQ(reports[1]["line"], 4);  // blank lines count
  for (const auto& r : reports) {
    EXPECT_EQ(r["code"], "malformed");
    const std::string reason = r["reason"].get<std::string>();
    EXPECT_FALSE(reason.empty());
    // Never a number long enough to be (part of) an identity number.
    EXPECT_FALSE(std::regex_search(reason, std::regex("[0-9]{4}"))) << reason;
  }
  // The identity number sits where a string belongs: the reason names the field, no digits at all.
  const std::string reason = reports[0]["reason"].get<std::string>();
  EXPECT_EQ(reason.find_first_of("0123456789"), std::string::npos) << reason;
  EXPECT_THAT(reason, HasSubstr("personalId"));
  EXPECT_THAT(produced.err, Not(HasSubstr("Tolvan")));
  EXPECT_THAT(produced.err, Not(HasSubstr("1212")));

  auto records = read_topic(bootstrap(), topic, to_end());
  ASSERT_TRUE(records) << records.error().message;
  EXPECT_EQ(records.value().size(), 2u);
}

TEST_F(KafkaTools, ConfigFileNamesTheTopicsAndConsumeDecodesByRole) {
  const kafka::KafkaConfig config = unique_kafka_config(2);
  const auto file = write_config(dir_.path() / "samordna.yaml", config, dir_.path() / "state");
  const auto events = write_file(dir_.path() / "events.jsonl", join_lines(kEvents));

  // No --bootstrap, no --topic: both from the file.
  const CommandResult produced =
      samordna({"produce", "--config", file.string(), "--file", events.string()});
  ASSERT_EQ(produced.exit_code, 0) << produced.describe();
  const CommandResult consumed =
      samordna({"consume", "--config", file.string(), "--topic", config.topics.events,
                "--from-beginning", "--timeout-ms", "3000"});
  ASSERT_EQ(consumed.exit_code, 0) << consumed.describe();
  EXPECT_EQ(sorted(lines_of(consumed.out)), sorted(kEvents));
}

TEST_F(KafkaTools, ConsumePrintsNotificationsToStdoutOnly) {
  const std::string topic = unique_topic("notifications");
  create_topic(topic, 2);
  ASSERT_TRUE(produce_records(bootstrap(), notification_records(topic, kNotifications)));

  const CommandResult consumed = samordna({"consume", "--bootstrap", bootstrap(), "--topic", topic,
                                           "--from-beginning", "--timeout-ms", "3000"});
  ASSERT_EQ(consumed.exit_code, 0) << consumed.describe();
  EXPECT_EQ(sorted(lines_of(consumed.out)), sorted(kNotifications));
  EXPECT_THAT(consumed.err, Not(HasSubstr("Tolvan")));
  EXPECT_THAT(consumed.err, Not(HasSubstr("191212121212")));
}

TEST_F(KafkaTools, MaxStopsEarlyAndAGroupResumesWhereItStopped) {
  const std::string topic = unique_topic("notifications");
  create_topic(topic, 1);
  ASSERT_TRUE(produce_records(bootstrap(), notification_records(topic, kNotifications)));
  const std::string group = unique_topic("group");
  auto consume = [&](const std::string& max) {
    return samordna({"consume", "--bootstrap", bootstrap(), "--topic", topic, "--group", group,
                     "--from-beginning", "--max", max, "--timeout-ms", "15000"});
  };
  const CommandResult first = consume("2");
  ASSERT_EQ(first.exit_code, 0) << first.describe();
  EXPECT_EQ(lines_of(first.out), (std::vector<std::string>{kNotifications[0], kNotifications[1]}));
  const CommandResult second = consume("1");
  ASSERT_EQ(second.exit_code, 0) << second.describe();
  EXPECT_EQ(lines_of(second.out), (std::vector<std::string>{kNotifications[2]}));
}

TEST_F(KafkaTools, ConsumeSeesCommittedTransactionsOnly) {
  const std::string topic = unique_topic("notifications");
  create_topic(topic, 1);
  auto conf = kafka::make_conf(on(bootstrap()), {{"transactional.id", unique_topic("txn")}});
  ASSERT_TRUE(conf) << conf.error().message;
  std::string detail;
  std::unique_ptr<RdKafka::Producer> producer(
      RdKafka::Producer::create(conf.value().get(), detail));
  ASSERT_TRUE(producer) << detail;
  auto send = [&](const std::string& json) {
    const std::string value = binary_of<v1::Notification>(json);
    ASSERT_EQ(
        producer->produce(topic, 0, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
                          value.size(), nullptr, 0, 0, nullptr),
        RdKafka::ERR_NO_ERROR);
  };
  auto check = [](RdKafka::Error* error) {
    std::unique_ptr<RdKafka::Error> owned(error);
    ASSERT_EQ(owned, nullptr) << owned->str();
  };
  check(producer->init_transactions(30000));
  check(producer->begin_transaction());
  send(kNotifications[0]);
  ASSERT_EQ(producer->flush(30000), RdKafka::ERR_NO_ERROR);
  check(producer->abort_transaction(30000));
  check(producer->begin_transaction());
  send(kNotifications[1]);
  check(producer->commit_transaction(30000));

  const CommandResult consumed = samordna({"consume", "--bootstrap", bootstrap(), "--topic", topic,
                                           "--from-beginning", "--timeout-ms", "3000"});
  ASSERT_EQ(consumed.exit_code, 0) << consumed.describe();
  EXPECT_EQ(lines_of(consumed.out), (std::vector<std::string>{kNotifications[1]}));

  // The fixture sees the same, and the aborted record under read_uncommitted.
  auto committed = read_topic(bootstrap(), topic, to_end());
  ASSERT_TRUE(committed) << committed.error().message;
  EXPECT_EQ(committed.value().size(), 1u);
  auto everything = read_topic(bootstrap(), topic, to_end("read_uncommitted"));
  ASSERT_TRUE(everything) << everything.error().message;
  EXPECT_EQ(everything.value().size(), 2u);
}

TEST_F(KafkaTools, ConsumePrintsDeadletterRecordsWithHeadersAndOriginalBytes) {
  const std::string topic = unique_topic("deadletter");
  create_topic(topic, 1);
  const std::string original("\x0a\x02\xff\x00garbage", 11);
  Record r = record(topic, "it-ep-7", original);
  r.headers = {{kafka::kHeaderCode, "malformed"},
               {kafka::kHeaderReason, "not a samordna.v1.Event"},
               {kafka::kHeaderSourceTopic, "samordna.events"},
               {kafka::kHeaderSourcePartition, "0"},
               {kafka::kHeaderSourceOffset, "41"}};
  ASSERT_TRUE(produce_records(bootstrap(), {r}));

  const CommandResult consumed =
      samordna({"consume", "--bootstrap", bootstrap(), "--topic", topic, "--type", "deadletter",
                "--from-beginning", "--timeout-ms", "3000"});
  ASSERT_EQ(consumed.exit_code, 0) << consumed.describe();
  const auto out = json_lines(consumed.out);
  ASSERT_EQ(out.size(), 1u) << consumed.out;
  EXPECT_EQ(out[0]["key"], "it-ep-7");
  EXPECT_EQ(out[0]["code"], "malformed");
  EXPECT_EQ(out[0]["reason"], "not a samordna.v1.Event");
  EXPECT_EQ(out[0]["headers"]["samordna.source.offset"], "41");
  EXPECT_EQ(out[0]["partition"], 0);
  EXPECT_EQ(out[0]["offset"], 0);
  EXPECT_EQ(kafka::base64_decode(out[0]["value"].get<std::string>()),
            std::optional<std::string>(original));
}

TEST_F(KafkaTools, UndecodableRecordIsReportedWithoutItsBytes) {
  const std::string topic = unique_topic("notifications");
  create_topic(topic, 1);
  ASSERT_TRUE(produce_records(bootstrap(), {record(topic, std::nullopt, "\xff\xff\xff Tolvan")}));
  const CommandResult consumed = samordna({"consume", "--bootstrap", bootstrap(), "--topic", topic,
                                           "--from-beginning", "--timeout-ms", "3000"});
  EXPECT_EQ(consumed.exit_code, 1) << consumed.describe();
  EXPECT_TRUE(consumed.out.empty());
  const auto reports = json_lines(consumed.err);
  ASSERT_EQ(reports.size(), 1u) << consumed.err;
  EXPECT_EQ(reports[0]["code"], "malformed");
  EXPECT_EQ(reports[0]["offset"], 0);
  EXPECT_THAT(consumed.err, Not(HasSubstr("Tolvan")));
}

TEST_F(KafkaTools, FixtureEventAndNotificationHelpersRoundTrip) {
  const std::string events = unique_topic("events");
  const std::string notifications = unique_topic("notifications");
  create_topic(events, 2);
  create_topic(notifications, 1);
  ASSERT_TRUE(produce_events(bootstrap(), events, kEvents));
  ASSERT_TRUE(produce_records(bootstrap(), notification_records(notifications, kNotifications)));
  auto event_records = read_topic(bootstrap(), events, to_end());
  ASSERT_TRUE(event_records) << event_records.error().message;
  EXPECT_EQ(event_records.value().size(), kEvents.size());
  auto records = read_topic(bootstrap(), notifications, to_end());
  ASSERT_TRUE(records) << records.error().message;
  auto json = notification_json(records.value());
  ASSERT_TRUE(json) << json.error().message;
  EXPECT_EQ(json.value(), kNotifications);  // one partition: produce order
  auto ends = end_offsets(bootstrap(), notifications);
  ASSERT_TRUE(ends) << ends.error().message;
  EXPECT_EQ(ends.value(), (std::map<int32_t, int64_t>{{0, 3}}));
  EXPECT_FALSE(produce_events(bootstrap(), events, {"{not json"}));
}

TEST_F(KafkaTools, MissingTopicIsAUsageError) {
  const CommandResult consumed = samordna({"consume", "--bootstrap", bootstrap(), "--topic",
                                           unique_topic("absent"), "--timeout-ms", "1000"});
  EXPECT_EQ(consumed.exit_code, 2) << consumed.describe();
  EXPECT_THAT(consumed.err, HasSubstr("does not exist"));
}

TEST_F(KafkaTools, BadPropertyIsNamedNotEchoed) {
  const CommandResult produced = samordna({"produce", "--bootstrap", bootstrap(), "--file",
                                           "/dev/null", "-X", "sasl.passwrd=hunter2secret"});
  EXPECT_EQ(produced.exit_code, 2) << produced.describe();
  EXPECT_THAT(produced.err, HasSubstr("sasl.passwrd"));
  EXPECT_THAT(produced.err, Not(HasSubstr("hunter2")));
}

// Needs no broker, but belongs with the tools: an unreachable broker fails fast and clearly.
TEST(KafkaToolsOffline, UnreachableBrokerExitsThreeWithinTheConnectTimeout) {
  const CommandResult produced = run_command(
      {samordna_binary(), "produce", "--bootstrap", "127.0.0.1:1", "--file", "/dev/null"}, 30s);
  EXPECT_EQ(produced.exit_code, 3) << produced.describe();
  EXPECT_THAT(produced.err, HasSubstr("cannot reach Kafka at 127.0.0.1:1 within 10 s"));
}

}  // namespace
}  // namespace samordna::kafka_test
