// The Publisher (connectors/kafka/publisher.h) against librdkafka's in-process mock cluster: a
// batch answered once with each event's place, many callers at once, a refused record, a retried
// one written once, and a timeout that comes within the caller's bound when the broker is down.
// The same against a real broker: tests/integration/publisher_test.cc.

#include "connectors/kafka/publisher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka/codec.h"
#include "tests/unit/kafka/mock_cluster.h"

namespace samordna::kafka {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

constexpr int kPartitions = 3;
constexpr int16_t kProduceApiKey = 0;  // Kafka protocol ApiKey of Produce

using testing::MockCluster;

v1::Event event(const std::string& episode, const std::string& id) {
  v1::Event e;
  e.set_episode_id(episode);
  e.set_event_id(id);
  e.mutable_occurred_at()->set_seconds(1700000000);
  return e;
}

class KafkaPublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.bootstrap = cluster_.bootstrap();
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_.get(), topic_.c_str(), kPartitions, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  std::unique_ptr<Publisher> publisher(const Properties& extra = {}) {
    auto made = Publisher::create(config_, topic_, extra);
    EXPECT_TRUE(made) << (made ? "" : made.error().message);
    return made ? std::move(made).value() : nullptr;
  }

  // Every record of the topic as (partition, offset) -> event id, read with read_committed.
  std::map<std::pair<int32_t, int64_t>, std::string> read_back() {
    std::map<std::pair<int32_t, int64_t>, std::string> records;
    auto consumer =
        make_consumer(config_, {{"group.id", "publisher-test"}, {"enable.partition.eof", "true"}});
    EXPECT_TRUE(consumer);
    if (!consumer) return records;
    std::vector<RdKafka::TopicPartition*> all;
    for (int p = 0; p < kPartitions; ++p) {
      all.push_back(RdKafka::TopicPartition::create(topic_, p, RdKafka::Topic::OFFSET_BEGINNING));
    }
    consumer.value()->assign(all);
    RdKafka::TopicPartition::destroy(all);
    std::set<int32_t> at_end;
    const auto give_up = Clock::now() + 10s;
    while (at_end.size() < kPartitions && Clock::now() < give_up) {
      std::unique_ptr<RdKafka::Message> m(consumer.value()->consume(100));
      if (m->err() == RdKafka::ERR__PARTITION_EOF) at_end.insert(m->partition());
      if (m->err() != RdKafka::ERR_NO_ERROR) continue;
      v1::Event e;
      EXPECT_TRUE(e.ParseFromArray(m->payload(), static_cast<int>(m->len())));
      EXPECT_EQ(*m->key(), e.episode_id());
      records[{m->partition(), m->offset()}] = e.event_id();
    }
    consumer.value()->close();
    return records;
  }

  MockCluster cluster_;
  KafkaConfig config_;
  std::string topic_ = "publisher.events";
};

TEST_F(KafkaPublisherTest, ABatchIsAnsweredOnceWithEachEventsPlace) {
  auto p = publisher();
  ASSERT_TRUE(p);
  std::atomic<int> calls{0};
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<PublishOutcome> got;
  p->publish({event("ep-1", "a"), event("ep-2", "b"), event("ep-1", "c")}, Clock::now() + 10s,
             [&](PublishOutcome out) {
               ++calls;
               std::lock_guard lock(mutex);
               got = std::move(out);
               cv.notify_all();
             });
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, 15s, [&] { return got.has_value(); }));
  }
  ASSERT_EQ(got->status, PublishOutcome::Status::kDurable) << got->error->message;
  ASSERT_EQ(got->events.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const std::string key = i == 1 ? "ep-2" : "ep-1";
    EXPECT_TRUE(got->events[i].durable);
    // Java's partitioner: the same partition a Java client would choose for the key.
    EXPECT_EQ(got->events[i].partition, java_partition(key, kPartitions)) << i;
    EXPECT_GE(got->events[i].offset, 0);
  }
  // One episode's events in order.
  EXPECT_LT(got->events[0].offset, got->events[2].offset);
  p->close(1s);
  EXPECT_EQ(calls.load(), 1);
  const auto records = read_back();
  EXPECT_EQ(records.size(), 3u);
  EXPECT_EQ(records.at({got->events[1].partition, got->events[1].offset}), "b");
}

TEST_F(KafkaPublisherTest, AnEmptyBatchIsDurableAtOnce) {
  auto p = publisher();
  ASSERT_TRUE(p);
  const auto out = p->publish_and_wait({}, 1s);
  EXPECT_TRUE(out.durable());
  EXPECT_TRUE(out.events.empty());
}

TEST_F(KafkaPublisherTest, ManyCallersEachHearOfTheirOwnEvents) {
  auto p = publisher();
  ASSERT_TRUE(p);
  constexpr int kCallers = 6;
  constexpr int kBatches = 15;
  std::mutex mutex;
  std::set<std::pair<int32_t, int64_t>> places;
  std::atomic<int> durable{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      for (int b = 0; b < kBatches; ++b) {
        const std::string id = std::to_string(c) + "-" + std::to_string(b);
        auto out = p->publish_and_wait(
            {event("ep-" + std::to_string(c), id + "-x"), event("ep-" + id, id + "-y")}, 10s);
        if (!out.durable()) continue;
        ++durable;
        std::lock_guard lock(mutex);
        for (const auto& r : out.events) places.insert({r.partition, r.offset});
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(durable.load(), kCallers * kBatches);
  EXPECT_EQ(places.size(), static_cast<size_t>(2 * kCallers * kBatches));  // no two the same
  EXPECT_EQ(p->open_batches(), 0u);
  EXPECT_EQ(read_back().size(), places.size());
}

TEST_F(KafkaPublisherTest, ARefusedEventFailsItsBatchAndNamesWhy) {
  auto p = publisher({{"message.max.bytes", "1000"}});
  ASSERT_TRUE(p);
  v1::Event big = event("ep-big", "big");
  big.mutable_admitted()->set_care_unit(std::string(5000, 'w'));
  const auto out = p->publish_and_wait({event("ep-1", "ok"), big}, 10s);
  EXPECT_EQ(out.status, PublishOutcome::Status::kFailed);
  ASSERT_EQ(out.events.size(), 2u);
  EXPECT_TRUE(out.events[0].durable);  // the other event of the batch is answered too
  EXPECT_FALSE(out.events[1].durable);
  ASSERT_TRUE(out.error);
  EXPECT_THAT(out.error->message, HasSubstr("(abortable)"));
  EXPECT_THAT(out.error->message, Not(HasSubstr("wwww")));  // never the record's contents
  // The publisher goes on.
  EXPECT_TRUE(p->publish_and_wait({event("ep-2", "after")}, 10s).durable());
}

TEST_F(KafkaPublisherTest, ARetriedProduceIsWrittenOnce) {
  // The broker answers the first two Produce requests with a retriable error: librdkafka sends
  // the batch again, and the caller hears once. (The mock cluster cannot lose an answer to a
  // write it made, the case idempotence is for: tests/integration/publisher_test.cc kills a real
  // broker for that.)
  auto p = publisher();
  ASSERT_TRUE(p);
  rd_kafka_mock_push_request_errors(cluster_.get(), kProduceApiKey, 2,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  const auto out = p->publish_and_wait({event("ep-1", "once")}, 20s);
  ASSERT_TRUE(out.durable()) << out.error->message;
  const auto records = read_back();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records.begin()->second, "once");
}

TEST_F(KafkaPublisherTest, ATimeoutComesWithinTheBoundWhenTheBrokerIsDown) {
  auto p = publisher();
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->publish_and_wait({event("ep-1", "before")}, 10s).durable());
  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster_.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  const auto bound = 1500ms;
  const auto started = Clock::now();
  const auto out = p->publish_and_wait({event("ep-1", "during")}, bound);
  const auto took = Clock::now() - started;
  EXPECT_EQ(out.status, PublishOutcome::Status::kTimedOut);
  // No sooner than asked (nothing was refused), no later than the bound and a margin.
  EXPECT_GE(took, bound);
  EXPECT_LE(took, bound + 1s);
  ASSERT_TRUE(out.error);
  EXPECT_THAT(out.error->message, HasSubstr("may still arrive"));
  EXPECT_FALSE(out.events[0].durable);
  ASSERT_EQ(rd_kafka_mock_broker_set_up(cluster_.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
}

TEST(KafkaPublisher, NoBrokerIsATimeoutWithinTheBound) {
  KafkaConfig config;
  config.bootstrap = "127.0.0.1:1";  // nothing listens
  auto made = Publisher::create(config, "t");
  ASSERT_TRUE(made);
  const auto started = Clock::now();
  const auto out = made.value()->publish_and_wait({event("ep", "e")}, 800ms);
  EXPECT_EQ(out.status, PublishOutcome::Status::kTimedOut);
  EXPECT_LE(Clock::now() - started, 800ms + 1s);
}

TEST(KafkaPublisher, AClosedPublisherRefusesAtOnce) {
  KafkaConfig config;
  config.bootstrap = "127.0.0.1:1";
  auto made = Publisher::create(config, "t");
  ASSERT_TRUE(made);
  made.value()->close(0ms);
  const auto out = made.value()->publish_and_wait({event("ep", "e")}, 10s);
  EXPECT_EQ(out.status, PublishOutcome::Status::kFailed);
  ASSERT_TRUE(out.error);
  EXPECT_THAT(out.error->message, HasSubstr("closed"));
}

TEST(KafkaPublisher, ABadPropertyIsAnErrorNamingIt) {
  KafkaConfig config;
  auto made = Publisher::create(config, "t", {{"no.such.property", "secret-value"}});
  ASSERT_FALSE(made);
  EXPECT_THAT(made.error().message, HasSubstr("no.such.property"));
  EXPECT_THAT(made.error().message, Not(HasSubstr("secret-value")));
}

}  // namespace
}  // namespace samordna::kafka
