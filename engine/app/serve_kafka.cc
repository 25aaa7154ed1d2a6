#include "engine/app/serve_kafka.h"

#include <spdlog/spdlog.h>

#include <mutex>
#include <set>

#include "connectors/kafka/reader.h"

namespace samordna::app {

using serve::TopicPartition;

struct ReadModelFeed::Impl {
  serve::ReadModel* model = nullptr;
  Options options;
  std::unique_ptr<kafka::Reader> reader;
  size_t partitions = 0;
  std::vector<std::string> topics;  // every topic it reads or would read once it exists
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t>* applied = nullptr;

  mutable std::mutex mu;            // guards the fields below
  std::set<TopicPartition> at_end;  // reached its end once since start (after applying up to it)
  bool ready = false;
  int64_t lag = -1;
  std::optional<Error> failure;

  void run();
  void grow();
  void fail_with(const Error& e) {
    std::lock_guard lock(mu);
    failure = e;
  }
};

// Partitions added since the start are read from their beginning: without this a notification in
// a partition added to the topic never reached the inbox until serve restarted.
void ReadModelFeed::Impl::grow() {
  auto stored = model->positions();
  if (!stored) {
    spdlog::warn("serve: cannot check the topics for new partitions: {}", stored.error().message);
    return;
  }
  auto added = reader->grow(topics, std::chrono::seconds{5}, stored.value());
  if (!added) {
    spdlog::warn("serve: cannot check the topics for new partitions (next try in {} ms): {}",
                 options.partition_check_ms, added.error().message);
    return;
  }
  for (const auto& s : added.value()) {
    spdlog::info("serve: reading partition {} of {}, new since the start", s.partition, s.topic);
  }
  std::lock_guard lock(mu);
  partitions += added.value().size();
}

void ReadModelFeed::Impl::run() {
  std::vector<serve::Record> batch;
  std::set<TopicPartition> eof_pending;
  auto flush = [&]() -> bool {
    if (!batch.empty()) {
      auto r = model->apply(batch);
      if (!r) {
        fail_with(r.error());
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
      if (!ready && at_end.size() == partitions) {
        ready = true;
        spdlog::info("serve: read model caught up with {} partitions", partitions);
      }
    }
    return true;
  };
  auto batch_started = std::chrono::steady_clock::now();
  auto last_lag = std::chrono::steady_clock::now() - std::chrono::hours{1};
  auto last_check = std::chrono::steady_clock::now();
  while (!stopping.load()) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_check >= std::chrono::milliseconds{options.partition_check_ms}) {
      if (!flush()) return;  // the positions it asks for are the rows' own
      grow();
      last_check = std::chrono::steady_clock::now();
    }
    if (now - last_lag >= std::chrono::milliseconds{options.lag_interval_ms}) {
      const auto l = reader->lag();
      std::lock_guard lock(mu);
      lag = l.value_or(-1);
      last_lag = now;
    }
    auto next = reader->next(std::chrono::milliseconds{options.max_batch_ms});
    if (!next) {
      fail_with(next.error());
      spdlog::error("serve: {}", next.error().message);
      return;
    }
    auto& n = next.value();
    if (n.kind == kafka::Reader::Next::Kind::kRecord) {
      if (batch.empty()) batch_started = std::chrono::steady_clock::now();
      auto& rec = n.record;
      serve::Record r;
      r.topic = std::move(rec.topic);
      r.partition = rec.partition;
      r.offset = rec.offset;
      if (rec.key) r.key = std::move(*rec.key);
      r.value = std::move(rec.value);
      batch.push_back(std::move(r));
    } else if (n.kind == kafka::Reader::Next::Kind::kEnd) {
      eof_pending.insert(n.end);
      if (!flush()) return;
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
  // stop() runs at exit only; a topic deleted under the reader (the audit-unavailable test) would
  // make librdkafka's destroy hang, so the handle is left to the process's end (reader.h).
  impl_->reader->abandon();
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
  impl->topics = {topics.episodes, topics.notifications, topics.audit};
  if (!topics.delivery_status.empty()) impl->topics.push_back(topics.delivery_status);
  SAMORDNA_TRY(positions, model.positions());  // the same (topic, partition) pairs as kafka's
  SAMORDNA_TRY(partitions,
               kafka::every_partition(config, {topics.episodes, topics.notifications, topics.audit},
                                      kafka::kFromBeginning, kTimeout, positions));
  // deliver's statuses are optional: without a deployed deliver (and with topic creation off)
  // the topic may not exist, and serve works without it.
  if (!topics.delivery_status.empty()) {
    auto statuses = kafka::every_partition(config, {topics.delivery_status}, kafka::kFromBeginning,
                                           kTimeout, positions);
    if (statuses) {
      partitions.insert(partitions.end(), statuses.value().begin(), statuses.value().end());
    } else if (statuses.error().code == Errc::kNotFound) {
      spdlog::warn("serve: no topic {} yet: its delivery statuses are read once it exists",
                   topics.delivery_status);
    } else {
      return statuses.error();
    }
  }
  impl->partitions = partitions.size();
  // Every partition assigned, nothing committed to Kafka: the offsets live in SQLite with the rows.
  SAMORDNA_TRY(reader, kafka::Reader::assign(config, partitions, {{"group.id", "samordna-serve"}}));
  impl->reader = std::move(reader);
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

}  // namespace samordna::app
