#include "connectors/kafka/client.h"

#include <spdlog/spdlog.h>

#include <string>
#include <thread>

#include "connectors/kafka/codec.h"

namespace samordna::kafka {

Properties producer_properties() {
  return {
      {"enable.idempotence", "true"},
      // Durable means in every in-sync replica; librdkafka sets it with idempotence, say it anyway.
      {"acks", "all"},
      {"partitioner", kPartitioner},
      {"linger.ms", "5"},
  };
}

Properties consumer_properties() {
  return {
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"isolation.level", "read_committed"},
  };
}

namespace {

Properties merged(Properties base, const Properties& extra) {
  for (const auto& [k, v] : extra) base[k] = v;
  return base;
}

Result<std::unique_ptr<RdKafka::Producer>> producer_with(const KafkaConfig& config,
                                                         const Properties& properties,
                                                         RdKafka::DeliveryReportCb* delivery) {
  SAMORDNA_TRY(conf, make_conf(config, properties));
  std::string detail;
  if (delivery != nullptr && conf->set("dr_cb", delivery, detail) != RdKafka::Conf::CONF_OK) {
    return fail(Errc::kInvalidArgument, "cannot set the delivery callback: " + detail);
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), detail));
  if (!producer) return fail(Errc::kInvalidArgument, "cannot create a Kafka producer: " + detail);
  return producer;
}

}  // namespace

Result<std::unique_ptr<RdKafka::Producer>> make_idempotent_producer(
    const KafkaConfig& config, const Properties& extra, RdKafka::DeliveryReportCb* delivery) {
  return producer_with(config, merged(producer_properties(), extra), delivery);
}

Result<std::unique_ptr<RdKafka::Producer>> make_transactional_producer(
    const KafkaConfig& config, const std::string& transactional_id, int transaction_timeout_ms,
    const Properties& extra, RdKafka::DeliveryReportCb* delivery) {
  Properties properties = producer_properties();
  properties["transactional.id"] = transactional_id;
  properties["transaction.timeout.ms"] = std::to_string(transaction_timeout_ms);
  return producer_with(config, merged(std::move(properties), extra), delivery);
}

Result<TopicHandles> learn_topics(RdKafka::Producer& producer,
                                  const std::vector<std::string>& topics,
                                  std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto give_up = Clock::now() + timeout;
  TopicHandles handles;
  for (const auto& name : topics) {
    std::string detail;
    std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(&producer, name, nullptr, detail));
    if (!topic) return fail(Errc::kInvalidArgument, "topic " + name + ": " += detail);
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(give_up - Clock::now());
      RdKafka::Metadata* raw = nullptr;
      const auto err = producer.metadata(false, topic.get(), &raw,
                                         static_cast<int>(std::max<int64_t>(1, left.count())));
      std::unique_ptr<RdKafka::Metadata> metadata(raw);
      std::string why;
      if (err != RdKafka::ERR_NO_ERROR) {
        why = RdKafka::err2str(err);
      } else {
        for (const auto* t : *metadata->topics()) {
          if (t->topic() != name) continue;
          if (t->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) {
            return fail(Errc::kNotFound, "topic " + name + " does not exist");
          }
          if (t->err() != RdKafka::ERR_NO_ERROR) {
            why = RdKafka::err2str(t->err());
          } else if (t->partitions()->empty()) {
            why = "no partitions yet";
          }
          for (const auto* part : *t->partitions()) {
            if (part->leader() < 0 || part->err() != RdKafka::ERR_NO_ERROR) {
              why = "partition " + std::to_string(part->id()) + " has no leader yet";
            }
          }
        }
      }
      if (why.empty()) break;
      if (Clock::now() >= give_up) {
        return fail(Errc::kUnavailable, "metadata of topic " + name + ": " += why);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    handles.push_back(std::move(topic));
  }
  return handles;
}

TopicHandles learn_or_warn(RdKafka::Producer& producer, const std::string& topic) {
  auto known = learn_topics(producer, {topic}, std::chrono::seconds(5));
  if (!known) {
    spdlog::warn("{}; the first record to it waits for the producer's topic scan",
                 known.error().message);
    return {};
  }
  return std::move(known).value();
}

Result<std::unique_ptr<RdKafka::KafkaConsumer>> make_consumer(const KafkaConfig& config,
                                                              const Properties& extra,
                                                              RdKafka::RebalanceCb* rebalance) {
  SAMORDNA_TRY(conf, make_conf(config, merged(consumer_properties(), extra)));
  std::string detail;
  if (rebalance != nullptr &&
      conf->set("rebalance_cb", rebalance, detail) != RdKafka::Conf::CONF_OK) {
    return fail(Errc::kInvalidArgument, "cannot set the rebalance callback: " + detail);
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), detail));
  if (!consumer) return fail(Errc::kInvalidArgument, "cannot create a Kafka consumer: " + detail);
  return consumer;
}

}  // namespace samordna::kafka
