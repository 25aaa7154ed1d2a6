#include "connectors/kafka/event_feed.h"

#include <librdkafka/rdkafkacpp.h>

#include <memory>

#include "connectors/kafka/codec.h"
#include "engine/core/json_codec.h"
#include "engine/core/json_error.h"
#include "samordna/v1/event.pb.h"

namespace samordna::kafka {
namespace {

class DeliveryCount : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) return;
    if (failed++ == 0) first_error = message.errstr();
  }
  size_t failed = 0;
  std::string first_error;
};

}  // namespace

Result<FeedResult> produce_event_lines(
    const KafkaConfig& config, const std::string& topic, std::istream& in,
    const std::map<std::string, std::string>& properties,
    const std::function<void(size_t, const std::string&)>& on_bad_line) {
  std::map<std::string, std::string> all = {
      {"enable.idempotence", "true"},
      {"partitioner", kPartitioner},
      {"linger.ms", "5"},
  };
  for (const auto& [k, v] : properties) all[k] = v;
  SAMORDNA_TRY(conf, make_conf(config, all));
  DeliveryCount deliveries;
  std::string detail;
  if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(&deliveries), detail) !=
      RdKafka::Conf::CONF_OK) {
    return fail(Errc::kInvalidArgument, "cannot set the delivery callback: " + detail);
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), detail));
  if (!producer) return fail(Errc::kInvalidArgument, "cannot create a Kafka producer: " + detail);

  FeedResult result;
  JsonCodec json;
  std::string line, parser_message, value;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    v1::Event event;
    if (!json.parse(line, event, parser_message)) {
      ++result.bad_lines;
      on_bad_line(line_no, describe_json_error(line, parser_message));
      continue;
    }
    value.clear();
    event.SerializeToString(&value);
    const std::string& key = event.episode_id();
    while (true) {
      const auto err =
          producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                            value.data(), value.size(), key.data(), key.size(), 0, nullptr);
      if (err == RdKafka::ERR__QUEUE_FULL) {
        producer->poll(100);
        continue;
      }
      if (err == RdKafka::ERR_NO_ERROR) {
        ++result.sent;
      } else if (result.undelivered++ == 0) {
        result.first_error = RdKafka::err2str(err);
      }
      break;
    }
    producer->poll(0);
  }
  // message.timeout.ms bounds how long an undeliverable message stays queued.
  while (producer->outq_len() > 0) producer->flush(1000);
  result.undelivered += deliveries.failed;
  if (result.first_error.empty()) result.first_error = deliveries.first_error;
  return result;
}

}  // namespace samordna::kafka
