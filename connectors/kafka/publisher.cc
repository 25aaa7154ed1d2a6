#include "connectors/kafka/publisher.h"

#include <librdkafka/rdkafkacpp.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "connectors/kafka/errors.h"

namespace samordna::kafka {
namespace {

using std::chrono::milliseconds;

// How long the poll thread waits for delivery reports before it looks at the deadlines again: a
// caller hears of its timeout at most this late.
constexpr milliseconds kPollInterval{50};

}  // namespace

size_t PublishOutcome::durable_count() const {
  return static_cast<size_t>(
      std::count_if(events.begin(), events.end(), [](const EventReceipt& r) { return r.durable; }));
}

const char* publish_status_name(PublishOutcome::Status s) {
  switch (s) {
    case PublishOutcome::Status::kDurable:
      return "durable";
    case PublishOutcome::Status::kFailed:
      return "failed";
    case PublishOutcome::Status::kTimedOut:
      return "timed_out";
  }
  return "failed";
}

struct Publisher::Impl : public RdKafka::DeliveryReportCb {
  // One publish() call. Guarded by mutex_ (the batch's fields are touched by the caller's thread
  // while it produces and by the poll thread).
  struct Batch {
    Callback done;
    Clock::time_point deadline;
    std::vector<EventReceipt> receipts;
    size_t waiting = 0;  // events without a delivery report yet
    bool answered = false;
    bool produced = false;  // publish() has handed every event to librdkafka (or failed it)
    std::multimap<Clock::time_point, std::shared_ptr<Batch>>::iterator in_pending;
  };
  // librdkafka's per-message opaque: which batch, which event. Deleted by the delivery report.
  struct Ref {
    std::shared_ptr<Batch> batch;
    size_t index;
  };

  KafkaConfig config;
  std::string topic;
  std::unique_ptr<RdKafka::Producer> producer;
  TopicHandles known;  // learn_topics(): the first publish need not wait for the topic scan

  mutable std::mutex mutex_;
  std::condition_variable idle_;                                      // pending_ became empty
  std::multimap<Clock::time_point, std::shared_ptr<Batch>> pending_;  // by deadline
  std::optional<Error> fatal_;  // the producer is unusable: every batch fails at once
  bool closed_ = false;
  std::atomic<bool> stop_{false};
  std::thread poller_;

  // Pending answers, delivered outside the lock.
  using Answer = std::pair<Callback, PublishOutcome>;

  ~Impl() override { shutdown(); }

  void dr_cb(RdKafka::Message& message) override {
    std::unique_ptr<Ref> ref(static_cast<Ref*>(message.msg_opaque()));
    if (!ref) return;
    std::vector<Answer> answers;
    {
      std::lock_guard lock(mutex_);
      Batch& b = *ref->batch;
      EventReceipt& r = b.receipts[ref->index];
      if (message.err() == RdKafka::ERR_NO_ERROR) {
        r.durable = true;
        r.partition = message.partition();
        r.offset = message.offset();
        r.error.reset();
      } else {
        std::string reason;
        const auto code = underlying_error(*producer, message.err(), reason);
        r.error = to_error("publish to " + topic, code, reason);
        if (classify(code) == ErrorClass::kFatal || message.err() == RdKafka::ERR__FATAL) {
          if (!fatal_) fatal_ = r.error;
        }
      }
      if (b.waiting > 0) --b.waiting;
      settle(ref->batch, answers);
    }
    deliver(answers);
  }

  // Answers `b` if every event has its report. Under mutex_.
  void settle(const std::shared_ptr<Batch>& b, std::vector<Answer>& answers) {
    if (b->answered || !b->produced || b->waiting > 0) return;
    PublishOutcome out;
    out.status = PublishOutcome::Status::kDurable;
    for (const auto& r : b->receipts) {
      if (!r.durable) {
        out.status = PublishOutcome::Status::kFailed;
        if (!out.error) out.error = r.error;
      }
    }
    answer(b, std::move(out), answers);
  }

  // Under mutex_.
  void answer(const std::shared_ptr<Batch>& b, PublishOutcome out, std::vector<Answer>& answers) {
    b->answered = true;
    if (b->in_pending != pending_.end()) {
      pending_.erase(b->in_pending);
      b->in_pending = pending_.end();
    }
    out.events = b->receipts;
    answers.emplace_back(std::move(b->done), std::move(out));
    if (pending_.empty()) idle_.notify_all();
  }

  static void deliver(std::vector<Answer>& answers) {
    for (auto& [done, out] : answers) {
      if (done) done(std::move(out));
    }
    answers.clear();
  }

  // Under mutex_: answers every open batch whose deadline is at or before `now`.
  void expire(Clock::time_point now, const std::string& why, std::vector<Answer>& answers) {
    while (!pending_.empty() && pending_.begin()->first <= now) {
      std::shared_ptr<Batch> b = pending_.begin()->second;
      PublishOutcome out;
      out.status = PublishOutcome::Status::kTimedOut;
      const size_t unconfirmed = static_cast<size_t>(std::count_if(
          b->receipts.begin(), b->receipts.end(), [](const auto& r) { return !r.durable; }));
      Error e{Errc::kUnavailable,
              "publish to " + topic + ": " + std::to_string(unconfirmed) + " of " +
                  std::to_string(b->receipts.size()) + " event(s) " + why +
                  "; they may still arrive (at-least-once: re-sending is safe, the engine drops "
                  "a repeated event by source and eventId)"};
      for (auto& r : b->receipts) {
        if (!r.durable && !r.error) r.error = e;
      }
      out.error = e;
      answer(b, std::move(out), answers);
    }
  }

  void poll_loop() {
    std::vector<Answer> answers;
    while (!stop_.load()) {
      producer->poll(static_cast<int>(kPollInterval.count()));
      {
        std::lock_guard lock(mutex_);
        expire(Clock::now(), "not confirmed within the caller's bound", answers);
      }
      deliver(answers);
    }
  }

  void shutdown() {
    if (!poller_.joinable()) return;
    stop_.store(true);
    poller_.join();
    std::vector<Answer> answers;
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      expire(Clock::time_point::max(), "not confirmed before the publisher closed", answers);
    }
    deliver(answers);
    // Free the opaques of what librdkafka still holds: purge it and serve the reports (their
    // batches are answered already, so nobody hears of them twice).
    // The purge reports come through poll(), maybe not all in the first call: serve them until
    // librdkafka holds nothing (bounded: a broken client must not hang the shutdown).
    producer->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    for (int i = 0; i < 200 && producer->outq_len() > 0; ++i) producer->poll(10);
  }
};

Result<std::unique_ptr<Publisher>> Publisher::create(const KafkaConfig& config, std::string topic,
                                                     const Properties& extra) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->topic = std::move(topic);
  SAMORDNA_TRY(producer, make_idempotent_producer(config, extra, impl.get()));
  impl->producer = std::move(producer);
  impl->known = learn_or_warn(*impl->producer, impl->topic);
  Impl* raw = impl.get();
  // The poll thread takes no signals (as librdkafka's own threads): a SIGINT must reach the
  // application's threads, e.g. to interrupt a read blocked on a pipe.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  impl->poller_ = std::thread([raw] { raw->poll_loop(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return std::unique_ptr<Publisher>(new Publisher(std::move(impl)));
}

Publisher::Publisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Publisher::~Publisher() = default;

const std::string& Publisher::topic() const { return impl_->topic; }

size_t Publisher::open_batches() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->pending_.size();
}

void Publisher::publish(std::vector<v1::Event> events, Clock::time_point deadline, Callback done) {
  Impl& im = *impl_;
  auto batch = std::make_shared<Impl::Batch>();
  batch->done = std::move(done);
  batch->deadline = deadline;
  batch->receipts.resize(events.size());
  batch->waiting = events.size();
  std::vector<Impl::Answer> answers;
  {
    std::lock_guard lock(im.mutex_);
    batch->in_pending = im.pending_.end();
    if (im.closed_ || im.fatal_) {
      Error e =
          im.fatal_ ? *im.fatal_ : Error{Errc::kUnavailable, "publish to " + im.topic + ": closed"};
      for (auto& r : batch->receipts) r.error = e;
      PublishOutcome out;
      out.status = PublishOutcome::Status::kFailed;
      out.error = e;
      batch->produced = true;
      im.answer(batch, std::move(out), answers);
    } else {
      batch->in_pending = im.pending_.emplace(deadline, batch);
    }
  }
  if (!answers.empty()) {
    Impl::deliver(answers);
    return;
  }

  std::string value;
  for (size_t i = 0; i < events.size(); ++i) {
    value.clear();
    events[i].SerializeToString(&value);
    const std::string& key = events[i].episode_id();
    auto ref = std::make_unique<Impl::Ref>(Impl::Ref{batch, i});
    RdKafka::ErrorCode err;
    while (true) {
      err = im.producer->produce(im.topic, RdKafka::Topic::PARTITION_UA,
                                 RdKafka::Producer::RK_MSG_COPY, value.data(), value.size(),
                                 key.data(), key.size(), 0, ref.get());
      // A full queue empties as the poll thread serves delivery reports: wait, within the bound.
      if (err != RdKafka::ERR__QUEUE_FULL || Clock::now() >= deadline) break;
      std::this_thread::sleep_for(milliseconds(5));
    }
    if (err == RdKafka::ERR_NO_ERROR) {
      ref.release();  // librdkafka hands it back in the delivery report
      continue;
    }
    std::lock_guard lock(im.mutex_);
    batch->receipts[i].error = to_error("publish to " + im.topic, err);
    if (batch->waiting > 0) --batch->waiting;
    if (classify(err) == ErrorClass::kFatal && !im.fatal_) im.fatal_ = batch->receipts[i].error;
  }
  {
    std::lock_guard lock(im.mutex_);
    batch->produced = true;
    im.settle(batch, answers);
  }
  Impl::deliver(answers);
}

PublishOutcome Publisher::publish_and_wait(std::vector<v1::Event> events,
                                           std::chrono::milliseconds bound) {
  std::promise<PublishOutcome> promise;
  auto answer = promise.get_future();
  publish(std::move(events), Clock::now() + bound,
          [&promise](PublishOutcome out) { promise.set_value(std::move(out)); });
  return answer.get();
}

void Publisher::close(std::chrono::milliseconds bound) {
  Impl& im = *impl_;
  std::unique_lock lock(im.mutex_);
  im.closed_ = true;
  im.idle_.wait_for(lock, bound, [&im] { return im.pending_.empty(); });
}

}  // namespace samordna::kafka
