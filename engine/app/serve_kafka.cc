#include "engine/app/serve_kafka.h"

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

#include "connectors/kafka/admin.h"
#include "connectors/kafka/client.h"
#include "connectors/kafka/errors.h"

namespace samordna::app {

using serve::TopicPartition;

struct ReadModelFeed::Impl {
  serve::ReadModel* model = nullptr;
  Options options;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  std::vector<TopicPartition> partitions;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t>* applied = nullptr;

  mutable std::mutex mu;            // guards the fields below
  std::set<TopicPartition> at_end;  // reached its end once since start (after applying up to it)
  bool ready = false;
  int64_t lag = -1;
  std::optional<Error> failure;

  void run();
  void update_lag();
};

void ReadModelFeed::Impl::update_lag() {
  std::vector<RdKafka::TopicPartition*> tps;
  for (const auto& [topic, p] : partitions)
    tps.push_back(RdKafka::TopicPartition::create(topic, p));
  consumer->position(tps);
  int64_t total = 0;
  bool known = true;
  for (auto* tp : tps) {
    int64_t low = 0, high = 0;
    if (consumer->get_watermark_offsets(tp->topic(), tp->partition(), &low, &high) !=
            RdKafka::ERR_NO_ERROR ||
        high < 0) {
      known = false;
    } else {
      const int64_t pos = tp->offset() >= 0 ? tp->offset() : low;
      total += std::max<int64_t>(0, high - pos);
    }
    delete tp;
  }
  std::lock_guard lock(mu);
  lag = known ? total : -1;
}

void ReadModelFeed::Impl::run() {
  std::vector<serve::Record> batch;
  std::set<TopicPartition> eof_pending;
  auto flush = [&]() -> bool {
    if (!batch.empty()) {
      auto r = model->apply(batch);
      if (!r) {
        std::lock_guard lock(mu);
        failure = r.error();
        spdlog::error("serve: the read model failed, stopping the feed: {}", r.error().message);
        return false;
      }
      *applied += r.value();
      batch.clear();
    }
    if (!eof_pending.empty()) {
      std::lock_guard lock(mu);
      at_end.insert(eof_pending.begin(), eof_pending.end());
      eof_pending.clear();
      if (!ready && at_end.size() == partitions.size()) {
        ready = true;
        spdlog::info("serve: read model caught up with {} partitions", partitions.size());
      }
    }
    return true;
  };
  auto batch_started = std::chrono::steady_clock::now();
  auto last_lag = std::chrono::steady_clock::now() - std::chrono::hours{1};
  while (!stopping.load()) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_lag >= std::chrono::milliseconds{options.lag_interval_ms}) {
      update_lag();
      last_lag = now;
    }
    std::unique_ptr<RdKafka::Message> msg(consumer->consume(options.max_batch_ms));
    switch (msg->err()) {
      case RdKafka::ERR_NO_ERROR: {
        if (batch.empty()) batch_started = std::chrono::steady_clock::now();
        serve::Record r;
        r.topic = msg->topic_name();
        r.partition = msg->partition();
        r.offset = msg->offset();
        if (msg->key() != nullptr) r.key = *msg->key();
        if (msg->payload() != nullptr) {
          r.value = std::string(static_cast<const char*>(msg->payload()), msg->len());
        }
        batch.push_back(std::move(r));
        break;
      }
      case RdKafka::ERR__PARTITION_EOF:
        eof_pending.insert({msg->topic_name(), msg->partition()});
        if (!flush()) return;
        break;
      case RdKafka::ERR__TIMED_OUT:
        break;
      default: {
        const auto cls = kafka::classify(msg->err());
        if (cls == kafka::ErrorClass::kFatal) {
          std::lock_guard lock(mu);
          failure = kafka::to_error("consume for the read model", msg->err());
          spdlog::error("serve: {}", failure->message);
          return;
        }
        spdlog::warn("serve: consume: {} ({})", RdKafka::err2str(msg->err()),
                     kafka::error_class_name(cls));
      }
    }
    if (batch.size() >= options.max_batch ||
        (!batch.empty() && std::chrono::steady_clock::now() - batch_started >=
                               std::chrono::milliseconds{options.max_batch_ms})) {
      if (!flush()) return;
    }
  }
  (void)flush();
}

ReadModelFeed::ReadModelFeed(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ReadModelFeed::~ReadModelFeed() { stop(); }

void ReadModelFeed::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->consumer->unassign();
  impl_->consumer->close();
  // Not destroyed: once a topic it was assigned was deleted under it (the audit-unavailable
  // test), librdkafka 2.0.2's rd_kafka_destroy waits forever for its main thread. stop() runs
  // at exit only, so the handle is left to the process's end instead of hanging the shutdown.
  (void)impl_->consumer.release();
}

serve::ReadModelStatus ReadModelFeed::status() const {
  std::lock_guard lock(impl_->mu);
  return serve::ReadModelStatus{impl_->ready && !impl_->failure, impl_->lag};
}

std::optional<Error> ReadModelFeed::failure() const {
  std::lock_guard lock(impl_->mu);
  return impl_->failure;
}

Result<std::unique_ptr<ReadModelFeed>> ReadModelFeed::start(const kafka::KafkaConfig& config,
                                                            serve::ReadModel& model,
                                                            Options options) {
  const auto& topics = model.topics();
  constexpr auto kTimeout = std::chrono::seconds{15};
  auto impl = std::make_unique<Impl>();
  impl->model = &model;
  impl->options = options;
  for (const auto& topic : {topics.episodes, topics.notifications, topics.audit}) {
    SAMORDNA_TRY(count, kafka::partition_count(config, topic, kTimeout));
    for (int p = 0; p < count; ++p) impl->partitions.emplace_back(topic, p);
  }
  SAMORDNA_TRY(positions, model.positions());
  // group.id only because librdkafka requires one: partitions are assigned, never subscribed, and
  // nothing is committed to Kafka (the offsets live in SQLite with the rows).
  SAMORDNA_TRY(consumer, kafka::make_consumer(config, {{"group.id", "samordna-serve"},
                                                       {"enable.partition.eof", "true"},
                                                       {"auto.offset.reset", "earliest"}}));
  std::vector<RdKafka::TopicPartition*> assignment;
  for (const auto& tp : impl->partitions) {
    auto it = positions.find(tp);
    assignment.push_back(RdKafka::TopicPartition::create(
        tp.first, tp.second,
        it == positions.end() ? RdKafka::Topic::OFFSET_BEGINNING : it->second));
  }
  const auto err = consumer->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  if (err != RdKafka::ERR_NO_ERROR)
    return kafka::to_error("assign the read model's partitions", err);
  impl->consumer = std::move(consumer);
  auto feed = std::unique_ptr<ReadModelFeed>(new ReadModelFeed(std::move(impl)));
  feed->impl_->applied = &feed->applied_;
  feed->impl_->thread = std::thread([f = feed->impl_.get()] {
    try {
      f->run();
    } catch (const std::exception& e) {
      spdlog::critical("serve: the read model feed threw: {}", e.what());
      std::abort();
    }
  });
  return feed;
}

// ---------------------------------------------------------------------------------------------

namespace {

// One record's delivery, shared by the waiting writer and the delivery callback (which may come
// after the writer gave up).
struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  RdKafka::ErrorCode err = RdKafka::ERR_NO_ERROR;
};

class DeliveryCb : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    auto* holder = static_cast<std::shared_ptr<Waiter>*>(message.msg_opaque());
    if (holder == nullptr) return;
    {
      std::lock_guard lock((*holder)->mu);
      (*holder)->done = true;
      (*holder)->err = message.err();
    }
    (*holder)->cv.notify_all();
    delete holder;
  }
};

}  // namespace

struct AuditProducer::Impl {
  DeliveryCb delivery;
  std::unique_ptr<RdKafka::Producer> producer;
  std::string topic;
  std::chrono::milliseconds bound{5000};
  std::atomic<bool> stopping{false};
  std::thread poller;
};

AuditProducer::AuditProducer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AuditProducer::~AuditProducer() {
  impl_->stopping = true;
  if (impl_->poller.joinable()) impl_->poller.join();
  impl_->producer->flush(static_cast<int>(impl_->bound.count()));
  impl_->producer->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  impl_->producer->poll(0);  // serve the purge reports, so every waiter is freed
}

Result<std::unique_ptr<AuditProducer>> AuditProducer::create(const kafka::KafkaConfig& config,
                                                             std::string topic,
                                                             std::chrono::milliseconds bound) {
  auto impl = std::make_unique<Impl>();
  impl->topic = std::move(topic);
  impl->bound = bound;
  // A record not delivered within the bound is given up by librdkafka too, shortly after.
  SAMORDNA_TRY(producer, kafka::make_idempotent_producer(
                             config, {{"message.timeout.ms", std::to_string(bound.count() + 1000)}},
                             &impl->delivery));
  impl->producer = std::move(producer);
  impl->poller = std::thread([i = impl.get()] {
    while (!i->stopping.load()) i->producer->poll(50);
  });
  return std::unique_ptr<AuditProducer>(new AuditProducer(std::move(impl)));
}

Result<void> AuditProducer::write(const std::string& key, const std::string& value) {
  auto waiter = std::make_shared<Waiter>();
  auto* holder = new std::shared_ptr<Waiter>(waiter);
  const auto err = impl_->producer->produce(
      impl_->topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
      const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0, holder);
  if (err != RdKafka::ERR_NO_ERROR) {
    delete holder;
    return kafka::to_error("produce to " + impl_->topic, err);
  }
  std::unique_lock lock(waiter->mu);
  if (!waiter->cv.wait_for(lock, impl_->bound, [&] { return waiter->done; })) {
    return fail(Errc::kUnavailable, "audit record not confirmed within " +
                                        std::to_string(impl_->bound.count()) + " ms");
  }
  if (waiter->err != RdKafka::ERR_NO_ERROR) {
    return kafka::to_error("audit record to " + impl_->topic, waiter->err);
  }
  return ok();
}

}  // namespace samordna::app
