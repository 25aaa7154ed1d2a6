#include "connectors/kafka/reader.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "connectors/kafka/admin.h"
#include "connectors/kafka/errors.h"

namespace samordna::kafka {

static_assert(kFromBeginning == RD_KAFKA_OFFSET_BEGINNING);
static_assert(kFromEnd == RD_KAFKA_OFFSET_END);

struct Reader::Impl {
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  std::vector<TopicPartition> assigned;  // empty for a group reader
  std::string topic;                     // a group reader's topic
  bool closed = false;
};

namespace {

// RdKafka::TopicPartition* lists own their elements.
struct PartitionList {
  std::vector<RdKafka::TopicPartition*> list;
  PartitionList() = default;
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
  ~PartitionList() { RdKafka::TopicPartition::destroy(list); }
};

Record to_record(RdKafka::Message& m) {
  Record r;
  r.topic = m.topic_name();
  r.partition = m.partition();
  r.offset = m.offset();
  if (m.key() != nullptr) r.key = *m.key();
  if (m.payload() != nullptr) r.value.assign(static_cast<const char*>(m.payload()), m.len());
  const auto ts = m.timestamp();
  if (ts.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE)
    r.timestamp_ms = ts.timestamp;
  if (const RdKafka::Headers* headers = m.headers()) {
    for (const auto& h : headers->get_all()) {
      r.headers.emplace_back(
          h.key(), h.value() == nullptr
                       ? std::string()
                       : std::string(static_cast<const char*>(h.value()), h.value_size()));
    }
  }
  return r;
}

Properties with_defaults(Properties extra, const std::string& group) {
  extra.emplace("group.id", group);
  extra.emplace("enable.partition.eof", "true");
  extra.emplace("auto.offset.reset", "earliest");
  return extra;
}

}  // namespace

Result<std::vector<PartitionStart>> every_partition(
    const KafkaConfig& config, const std::vector<std::string>& topics, int64_t from,
    std::chrono::milliseconds timeout, const std::map<TopicPartition, int64_t>& stored) {
  std::vector<PartitionStart> out;
  for (const auto& topic : topics) {
    SAMORDNA_TRY(count, partition_count(config, topic, timeout));
    for (int32_t p = 0; p < count; ++p) {
      auto it = stored.find({topic, p});
      out.push_back({topic, p, it == stored.end() ? from : it->second});
    }
  }
  return out;
}

Reader::Reader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Reader::~Reader() { close(); }

Result<std::unique_ptr<Reader>> Reader::assign(const KafkaConfig& config,
                                               const std::vector<PartitionStart>& partitions,
                                               const Properties& extra) {
  SAMORDNA_TRY(consumer, make_consumer(config, with_defaults(extra, "samordna-reader")));
  PartitionList assignment;
  auto impl = std::make_unique<Impl>();
  for (const auto& s : partitions) {
    assignment.list.push_back(RdKafka::TopicPartition::create(s.topic, s.partition, s.offset));
    impl->assigned.emplace_back(s.topic, s.partition);
  }
  if (const auto err = consumer->assign(assignment.list); err != RdKafka::ERR_NO_ERROR) {
    return to_error("assign " + std::to_string(partitions.size()) + " partitions", err);
  }
  impl->consumer = std::move(consumer);
  return std::unique_ptr<Reader>(new Reader(std::move(impl)));
}

Result<std::unique_ptr<Reader>> Reader::subscribe(const KafkaConfig& config,
                                                  const std::string& topic,
                                                  const std::string& group,
                                                  const Properties& extra) {
  Properties properties = extra;
  properties["group.id"] = group;
  SAMORDNA_TRY(consumer, make_consumer(config, with_defaults(std::move(properties), group)));
  if (const auto err = consumer->subscribe({topic}); err != RdKafka::ERR_NO_ERROR) {
    return to_error("subscribe to " + topic, err);
  }
  auto impl = std::make_unique<Impl>();
  impl->consumer = std::move(consumer);
  impl->topic = topic;
  return std::unique_ptr<Reader>(new Reader(std::move(impl)));
}

Result<Reader::Next> Reader::next(std::chrono::milliseconds wait) {
  std::unique_ptr<RdKafka::Message> m(impl_->consumer->consume(static_cast<int>(wait.count())));
  Next n;
  switch (m->err()) {
    case RdKafka::ERR_NO_ERROR:
      n.kind = Next::Kind::kRecord;
      n.record = to_record(*m);
      return n;
    case RdKafka::ERR__PARTITION_EOF:
      n.kind = Next::Kind::kEnd;
      n.end = {m->topic_name(), m->partition()};
      return n;
    case RdKafka::ERR__TIMED_OUT:
      return n;
    default:
      break;
  }
  const auto cls = classify(m->err());
  if (cls == ErrorClass::kRetriable) {
    spdlog::warn("kafka: consume: {} ({})", RdKafka::err2str(m->err()), error_class_name(cls));
    return n;
  }
  std::string reason;
  const auto code = underlying_error(*impl_->consumer, m->err(), reason);
  return to_error("consume", code, reason);
}

std::optional<int64_t> Reader::lag() {
  PartitionList positions;
  for (const auto& [topic, p] : impl_->assigned) {
    positions.list.push_back(RdKafka::TopicPartition::create(topic, p));
  }
  if (impl_->consumer->position(positions.list) != RdKafka::ERR_NO_ERROR) return std::nullopt;
  int64_t total = 0;
  for (const auto* tp : positions.list) {
    int64_t low = 0, high = 0;
    if (impl_->consumer->get_watermark_offsets(tp->topic(), tp->partition(), &low, &high) !=
            RdKafka::ERR_NO_ERROR ||
        high < 0) {
      return std::nullopt;
    }
    const int64_t position = tp->offset() >= 0 ? tp->offset() : low;
    total += std::max<int64_t>(0, high - position);
  }
  return total;
}

Result<std::vector<PartitionStart>> Reader::grow(const std::vector<std::string>& topics,
                                                 std::chrono::milliseconds timeout,
                                                 const std::map<TopicPartition, int64_t>& stored) {
  if (!impl_->topic.empty()) return fail(Errc::kInvalidArgument, "grow: a group reader");
  // The consumer's own metadata: no second client per check.
  const rd_kafka_metadata_t* md = nullptr;
  if (const auto err = rd_kafka_metadata(impl_->consumer->c_ptr(), /*all_topics=*/1, nullptr, &md,
                                         static_cast<int>(timeout.count()));
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return to_error("read the topics' partitions", static_cast<RdKafka::ErrorCode>(err));
  }
  std::vector<PartitionStart> added;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = md->topics[i];
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR && t.err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) {
      continue;
    }
    if (std::find(topics.begin(), topics.end(), t.topic) == topics.end()) continue;
    for (int j = 0; j < t.partition_cnt; ++j) {
      const TopicPartition tp{t.topic, t.partitions[j].id};
      if (std::find(impl_->assigned.begin(), impl_->assigned.end(), tp) != impl_->assigned.end()) {
        continue;
      }
      auto it = stored.find(tp);
      added.push_back({tp.first, tp.second, it == stored.end() ? kFromBeginning : it->second});
    }
  }
  rd_kafka_metadata_destroy(md);
  if (added.empty()) return added;
  PartitionList more;
  for (const auto& s : added) {
    more.list.push_back(RdKafka::TopicPartition::create(s.topic, s.partition, s.offset));
  }
  std::unique_ptr<RdKafka::Error> error(impl_->consumer->incremental_assign(more.list));
  if (error) {
    return to_error("assign " + std::to_string(added.size()) + " new partitions", *error);
  }
  for (const auto& s : added) impl_->assigned.emplace_back(s.topic, s.partition);
  return added;
}

Result<void> Reader::commit(const std::map<int32_t, int64_t>& next_offsets) {
  if (impl_->topic.empty()) return fail(Errc::kInvalidArgument, "commit: not a group reader");
  PartitionList offsets;
  for (const auto& [p, offset] : next_offsets) {
    offsets.list.push_back(RdKafka::TopicPartition::create(impl_->topic, p, offset));
  }
  if (const auto err = impl_->consumer->commitSync(offsets.list); err != RdKafka::ERR_NO_ERROR) {
    return to_error("commit the offsets of " + impl_->topic, err);
  }
  return ok();
}

void Reader::close() {
  if (!impl_ || impl_->closed) return;
  impl_->closed = true;
  if (!impl_->assigned.empty()) impl_->consumer->unassign();
  impl_->consumer->close();
}

void Reader::abandon() {
  close();
  (void)impl_->consumer.release();
}

}  // namespace samordna::kafka
