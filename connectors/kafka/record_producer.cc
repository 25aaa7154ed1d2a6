#include "connectors/kafka/record_producer.h"

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "connectors/kafka/client.h"
#include "connectors/kafka/errors.h"

namespace samordna::kafka {

namespace {

// One record's delivery, shared by the waiting writer and the delivery callback (which may come
// after the writer gave up). A record sent without waiting has none.
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
    if (holder == nullptr) {
      if (message.err() != RdKafka::ERR_NO_ERROR) {
        spdlog::warn("kafka: a record to {} was not delivered: {}", message.topic_name(),
                     RdKafka::err2str(message.err()));
      }
      return;
    }
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

struct RecordProducer::Impl {
  DeliveryCb delivery;
  std::unique_ptr<RdKafka::Producer> producer;
  TopicHandles known;  // learn_topics(): the first write need not wait for the topic scan
  std::string topic;
  std::chrono::milliseconds bound{5000};
  std::atomic<bool> stopping{false};
  std::thread poller;

  RdKafka::ErrorCode produce(const std::string& key, const std::string& value, void* opaque) {
    return producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                             const_cast<char*>(value.data()), value.size(), key.data(), key.size(),
                             0, opaque);
  }
};

RecordProducer::RecordProducer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RecordProducer::~RecordProducer() {
  impl_->stopping = true;
  if (impl_->poller.joinable()) impl_->poller.join();
  impl_->producer->flush(static_cast<int>(impl_->bound.count()));
  impl_->producer->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  impl_->producer->poll(0);  // serve the purge reports, so every waiter is freed
}

Result<std::unique_ptr<RecordProducer>> RecordProducer::create(const KafkaConfig& config,
                                                               std::string topic,
                                                               std::chrono::milliseconds bound) {
  auto impl = std::make_unique<Impl>();
  impl->topic = std::move(topic);
  impl->bound = bound;
  // A record not delivered within the bound is given up by librdkafka too, shortly after.
  SAMORDNA_TRY(producer, make_idempotent_producer(
                             config, {{"message.timeout.ms", std::to_string(bound.count() + 1000)}},
                             &impl->delivery));
  impl->producer = std::move(producer);
  impl->known = learn_or_warn(*impl->producer, impl->topic);
  impl->poller = std::thread([i = impl.get()] {
    while (!i->stopping.load()) i->producer->poll(50);
  });
  return std::unique_ptr<RecordProducer>(new RecordProducer(std::move(impl)));
}

const std::string& RecordProducer::topic() const { return impl_->topic; }

Result<void> RecordProducer::send(const std::string& key, const std::string& value) {
  if (const auto err = impl_->produce(key, value, nullptr); err != RdKafka::ERR_NO_ERROR) {
    return to_error("produce to " + impl_->topic, err);
  }
  return ok();
}

Result<void> RecordProducer::write(const std::string& key, const std::string& value) {
  auto waiter = std::make_shared<Waiter>();
  auto* holder = new std::shared_ptr<Waiter>(waiter);
  if (const auto err = impl_->produce(key, value, holder); err != RdKafka::ERR_NO_ERROR) {
    delete holder;
    return to_error("produce to " + impl_->topic, err);
  }
  std::unique_lock lock(waiter->mu);
  if (!waiter->cv.wait_for(lock, impl_->bound, [&] { return waiter->done; })) {
    return fail(Errc::kUnavailable, "a record to " + impl_->topic + " not confirmed within " +
                                        std::to_string(impl_->bound.count()) + " ms");
  }
  if (waiter->err != RdKafka::ERR_NO_ERROR) {
    return to_error("a record to " + impl_->topic, waiter->err);
  }
  return ok();
}

}  // namespace samordna::kafka
