// kafka::Reader and kafka::RecordProducer (connectors/kafka/reader.h, record_producer.h) against
// a real broker: the reader starts each partition where its caller says (the beginning, a stored
// offset, the end), hands out key, value, headers and timestamp, says once per partition that it
// is at the end, counts its lag down to 0, and as a group member resumes after what it committed.
// The producer's write() returns only once the record can be read; against no broker it fails
// within its bound.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "connectors/kafka/reader.h"
#include "connectors/kafka/record_producer.h"
#include "tests/integration/kafka_fixture.h"

namespace samordna::kafka_test {
namespace {

using Kind = kafka::Reader::Next::Kind;

class KafkaReaderTest : public KafkaTest {
 protected:
  kafka::KafkaConfig config() const {
    kafka::KafkaConfig c;
    c.bootstrap = bootstrap();
    return c;
  }
};

// Reads until every partition in `partitions` reported its end (after `want` records at least),
// or `limit` passes.
struct Read {
  std::vector<kafka::Record> records;
  std::map<kafka::TopicPartition, int> ends;
};
Read read_all(kafka::Reader& reader, size_t partitions, size_t want,
              std::chrono::milliseconds limit = 30s) {
  Read out;
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until &&
         (out.records.size() < want || out.ends.size() < partitions)) {
    auto next = reader.next(200ms);
    EXPECT_TRUE(next) << next.error().message;
    if (!next) break;
    if (next.value().kind == Kind::kRecord) out.records.push_back(next.value().record);
    if (next.value().kind == Kind::kEnd) ++out.ends[next.value().end];
  }
  return out;
}

TEST_F(KafkaReaderTest, StartsWhereTheCallerSaysAndReportsEachEnd) {
  const std::string topic = unique_topic("reader");
  create_topic(topic, 2);
  std::vector<Record> records;
  for (int i = 0; i < 10; ++i) {
    Record r;
    r.topic = topic;
    r.partition = i % 2;
    r.key = "k" + std::to_string(i);
    r.value = "v" + std::to_string(i);
    r.headers = {{"samordna-code", "c" + std::to_string(i)}};
    records.push_back(r);
  }
  ASSERT_TRUE(produce_records(bootstrap(), records));

  // Partition 0 from the beginning, partition 1 from its offset 3 (a stored position).
  auto starts =
      kafka::every_partition(config(), {topic}, kafka::kFromBeginning, 15s, {{{topic, 1}, 3}});
  ASSERT_TRUE(starts) << starts.error().message;
  ASSERT_EQ(starts.value().size(), 2u);
  auto reader = kafka::Reader::assign(config(), starts.value());
  ASSERT_TRUE(reader) << reader.error().message;
  const Read got = read_all(*reader.value(), 2, 7);
  ASSERT_EQ(got.records.size(), 7u);  // 5 of partition 0, offsets 3 and 4 of partition 1
  std::set<std::string> values;
  for (const auto& r : got.records) {
    values.insert(r.value);
    EXPECT_EQ(r.topic, topic);
    ASSERT_TRUE(r.key.has_value());
    EXPECT_EQ("v" + r.key->substr(1), r.value);
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0].first, "samordna-code");
    EXPECT_EQ(r.headers[0].second, "c" + r.key->substr(1));
    EXPECT_GT(r.timestamp_ms, 0);
    if (r.partition == 1) {
      EXPECT_GE(r.offset, 3);
    }
  }
  EXPECT_EQ(values, (std::set<std::string>{"v0", "v2", "v4", "v6", "v8", "v7", "v9"}));
  EXPECT_EQ(got.ends.size(), 2u);
  EXPECT_EQ(reader.value()->lag(), std::optional<int64_t>(0));

  // From the end: only what comes after.
  auto at_end = kafka::every_partition(config(), {topic}, kafka::kFromEnd, 15s);
  ASSERT_TRUE(at_end);
  auto tail = kafka::Reader::assign(config(), at_end.value());
  ASSERT_TRUE(tail) << tail.error().message;
  // (librdkafka reports no end for a partition started at its end with nothing after it.)
  ASSERT_EQ(read_all(*tail.value(), 2, 0, 2s).records.size(), 0u);
  Record late;
  late.topic = topic;
  late.partition = 0;
  late.value = "late";
  ASSERT_TRUE(produce_records(bootstrap(), {late}));
  const Read after = read_all(*tail.value(), 1, 1);  // the end of partition 0, after it
  ASSERT_EQ(after.records.size(), 1u);
  EXPECT_EQ(after.records[0].value, "late");
  EXPECT_FALSE(after.records[0].key.has_value());
}

// A topic an operator grows while the reader reads it (serve's read model checks every 30 s): the
// new partitions are assigned from their beginning, or from a stored position, and read; a topic
// that does not exist is left out until it does.
TEST_F(KafkaReaderTest, GrowAssignsThePartitionsAddedToTheTopics) {
  const std::string topic = unique_topic("grow");
  create_topic(topic, 1);
  auto record = [&](int32_t partition, const std::string& value) {
    Record r;
    r.topic = topic;
    r.partition = partition;
    r.key = value;
    r.value = value;
    return r;
  };
  ASSERT_TRUE(produce_records(bootstrap(), {record(0, "a"), record(0, "b")}));
  auto starts = kafka::every_partition(config(), {topic}, kafka::kFromBeginning, 15s);
  ASSERT_TRUE(starts) << starts.error().message;
  auto reader = kafka::Reader::assign(config(), starts.value());
  ASSERT_TRUE(reader) << reader.error().message;
  ASSERT_EQ(read_all(*reader.value(), 1, 2).records.size(), 2u);
  const std::string missing = unique_topic("not-yet");
  auto none = reader.value()->grow({topic, missing}, 15s);
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_TRUE(none.value().empty()) << "nothing new yet";

  add_partitions(topic, 3);
  ASSERT_TRUE(produce_records(bootstrap(),
                              {record(1, "c"), record(2, "d"), record(2, "e"), record(0, "f")}));
  // Partition 2 from a stored position (offset 1: "e" only), partition 1 from its beginning.
  std::vector<kafka::PartitionStart> added;
  ASSERT_TRUE(wait_until(
      [&] {
        auto got = reader.value()->grow({topic, missing}, 15s, {{{topic, 2}, 1}});
        EXPECT_TRUE(got) << got.error().message;
        if (got) added.insert(added.end(), got.value().begin(), got.value().end());
        return added.size() >= 2;
      },
      30s));
  ASSERT_EQ(added.size(), 2u);
  std::sort(added.begin(), added.end(),
            [](const auto& a, const auto& b) { return a.partition < b.partition; });
  EXPECT_EQ(added[0].partition, 1);
  EXPECT_EQ(added[0].offset, kafka::kFromBeginning);
  EXPECT_EQ(added[1].partition, 2);
  EXPECT_EQ(added[1].offset, 1);
  const Read got = read_all(*reader.value(), 3, 3);
  std::set<std::string> values;
  for (const auto& r : got.records) values.insert(r.value);
  EXPECT_EQ(values, (std::set<std::string>{"c", "e", "f"}));
  auto again = reader.value()->grow({topic}, 15s);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again.value().empty()) << "each partition is added once";
}

TEST_F(KafkaReaderTest, AGroupReaderResumesAfterWhatItCommitted) {
  const std::string topic = unique_topic("group");
  create_topic(topic, 1);
  std::vector<Record> records;
  for (int i = 0; i < 6; ++i)
    records.push_back({topic, 0, -1, std::nullopt, std::to_string(i), {}});
  ASSERT_TRUE(produce_records(bootstrap(), records));
  const std::string group = unique_topic("g");
  {
    auto reader = kafka::Reader::subscribe(config(), topic, group);
    ASSERT_TRUE(reader) << reader.error().message;
    std::vector<std::string> seen;
    for (const auto& r : read_all(*reader.value(), 0, 4).records) seen.push_back(r.value);
    ASSERT_EQ(seen, (std::vector<std::string>{"0", "1", "2", "3"}));
    ASSERT_TRUE(reader.value()->commit({{0, 4}}));
    reader.value()->close();
  }
  auto again = kafka::Reader::subscribe(config(), topic, group);
  ASSERT_TRUE(again) << again.error().message;
  std::vector<std::string> rest;
  for (const auto& r : read_all(*again.value(), 0, 2).records) rest.push_back(r.value);
  EXPECT_EQ(rest, (std::vector<std::string>{"4", "5"}));
}

TEST_F(KafkaReaderTest, AWrittenRecordIsThereAndNoBrokerFailsWithinTheBound) {
  const std::string topic = unique_topic("records");
  create_topic(topic, 1);
  auto producer = kafka::RecordProducer::create(config(), topic, 10s);
  ASSERT_TRUE(producer) << producer.error().message;
  ASSERT_TRUE(producer.value()->write("k", "durable"));
  // No wait: already on the broker, at the end of the partition.
  ReadOptions to_end;
  to_end.stop_at_end = true;
  auto on_topic = read_topic(bootstrap(), topic, to_end);
  ASSERT_TRUE(on_topic);
  ASSERT_EQ(on_topic.value().size(), 1u);
  EXPECT_EQ(on_topic.value()[0].value, "durable");
  ASSERT_TRUE(producer.value()->send("k", "queued"));
  producer.value().reset();  // the destructor waits for what is queued

  kafka::KafkaConfig nowhere;
  nowhere.bootstrap = "127.0.0.1:1";
  auto lost = kafka::RecordProducer::create(nowhere, topic, 1500ms);
  ASSERT_TRUE(lost) << lost.error().message;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = lost.value()->write("k", "nowhere");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kUnavailable) << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms + 3s);  // the bound, plus a margin
  auto all = read_topic(bootstrap(), topic, to_end);
  ASSERT_TRUE(all);
  EXPECT_EQ(all.value().size(), 2u);
}

}  // namespace
}  // namespace samordna::kafka_test
