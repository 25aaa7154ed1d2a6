#include "connectors/kafka/client.h"

#include <string>

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
