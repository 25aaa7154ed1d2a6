#include "connectors/kafka/service.h"

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <csignal>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "connectors/kafka/admin.h"
#include "connectors/kafka/client.h"
#include "connectors/kafka/codec.h"
#include "connectors/kafka/errors.h"
#include "engine/core/check.h"
#include "engine/pipeline/driver.h"

namespace samordna::kafka {
namespace {

using Clock = std::chrono::steady_clock;
using PartitionId = pipeline::PartitionId;

constexpr int kTimeoutMs = 30000;

pipeline::DriverOptions driver_options(const ServiceConfig& config,
                                       std::function<void(PartitionId, Instant)> on_timer_fired) {
  pipeline::DriverOptions o;
  o.clock = config.clock == ClockMode::kEventTime ? pipeline::ClockMode::kEventTime
                                                  : pipeline::ClockMode::kWall;
  o.max_batch = config.max_batch;
  o.timer_pass = config.timer_pass;
  o.retention = config.retention;
  o.views = true;
  o.write_behind = config.write_behind_episodes;
  o.spill_every = config.write_behind_seconds;
  o.on_timer_fired = std::move(on_timer_fired);
  return o;
}

// Owns an RdKafka::Error and says what to do about it.
struct TxnError {
  std::unique_ptr<RdKafka::Error> error;
  explicit operator bool() const { return error != nullptr; }
  std::string what() const { return error ? error->str() : "ok"; }
};

// Records where each changelog record landed, from delivery reports; flags a failed delivery.
class DeliveryTracker : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryTracker(std::string changelog_topic) : changelog_(std::move(changelog_topic)) {}
  void dr_cb(RdKafka::Message& message) override {
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      // When a transaction fails, every record in it fails: say it once, with the count at take().
      if (failed_++ == 0) {
        spdlog::warn("delivery to {}[{}] failed: {}", message.topic_name(), message.partition(),
                     RdKafka::err2str(message.err()));
      }
      return;
    }
    if (message.topic_name() == changelog_) {
      auto& next = next_offset_[message.partition()];
      next = std::max(next, message.offset() + 1);
    }
  }
  // Changelog offsets reached in the current transaction, by partition.
  std::map<int32_t, int64_t> take() {
    if (failed_ > 1) spdlog::warn("{} more deliveries failed in that transaction", failed_ - 1);
    failed_ = 0;
    return std::exchange(next_offset_, {});
  }

 private:
  std::string changelog_;
  std::map<int32_t, int64_t> next_offset_;
  uint64_t failed_ = 0;  // failed deliveries since the last take()
};

}  // namespace

// The Kafka side of the drive loop: the consumer feeds the driver, and a unit of work is a Kafka
// transaction (pipeline::Output).
class Service::Impl : public RdKafka::RebalanceCb, public pipeline::Output {
 public:
  Impl(ServiceConfig config, const rules::RuleBook& rules, pipeline::StateStore& db,
       std::atomic<bool>& stop, ServiceObserver* observer)
      : config_(std::move(config)),
        observer_(observer),
        driver_(db, rules, *this, driver_options(config_, timer_hook())),
        stop_(stop),
        deliveries_(config_.kafka.topics.changelog) {}

  ~Impl() override {
    // Only reached with a consumer after a failure: close without committing anything; the open
    // transaction is aborted by the next init_transactions or the broker's timeout.
    abandoned_ = true;
    if (consumer_) consumer_->close();
    if (watermarks_) watermarks_->close();
  }

  Result<void> run();

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override;

  // pipeline::Output
  Result<void> begin() override;
  Result<void> notify(const v1::Notification& n) override;
  Result<std::optional<std::map<PartitionId, int64_t>>> commit(
      const pipeline::Changes& changes) override;

 private:
  Result<void> start();
  Result<void> restore(PartitionId p);
  Result<void> process(RdKafka::Message& message);
  // driver_.commit(); an aborted unit was rewound (abort_unit), and with write-behind the assigned
  // partitions are restored again (`reload`) or left for the next assignment to restore.
  Result<void> commit_unit(bool reload = true);
  Result<void> restore_assigned();
  // Before partitions go (a revoke, shutdown): commit what is in flight and write the store
  // (write-behind), so that it is level with the changelog.
  Result<void> commit_and_spill() {
    SAMORDNA_TRYV(commit_unit(/*reload=*/false));
    return driver_.spill();
  }
  Result<void> abort_unit(const std::string& why);
  std::string txn_age_note() const;
  Error with_age(Error e) const {
    e.message += txn_age_note();
    return e;
  }
  // A value of nullopt is a tombstone. The record is copied (RK_MSG_COPY): key and value may go
  // when this returns.
  Result<void> produce(const std::string& topic, int32_t partition, std::string_view key,
                       std::optional<std::string_view> value, RdKafka::Headers* headers = nullptr);
  Result<void> dead_letter(RdKafka::Message& message, const std::string& code,
                           const std::string& reason);
  Result<void> produce_changes(const pipeline::Changes& changes);
  void stop_if_asked(bool in_commit);  // ServiceConfig::test_stops

  // The driver's timer hook, when there is an observer: how late each timer fired.
  std::function<void(PartitionId, Instant)> timer_hook() {
    if (observer_ == nullptr) return {};
    return [this](PartitionId p, Instant fire_at) {
      using Seconds = std::chrono::duration<double>;
      if (config_.clock == ClockMode::kWall) {
        observer_->timer_fired(Seconds(std::chrono::system_clock::now() - fire_at));
      } else {
        observer_->timer_fired(Seconds(driver_.now(p) - fire_at));
      }
    };
  }
  void report_gauges();  // to the observer: lag per partition, pending timers

  ServiceConfig config_;
  ServiceObserver* observer_;
  pipeline::Driver driver_;
  std::atomic<bool>& stop_;
  DeliveryTracker deliveries_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<RdKafka::Producer> producer_;
  // The output topics, as the config names them: the producer learns them at start, in this
  // order, and outputs_ holds their handles in the same order.
  std::array<const std::string*, 4> output_topics() const {
    const auto& t = config_.kafka.topics;
    return {&t.notifications, &t.deadletter, &t.changelog, &t.episodes};
  }
  TopicHandles outputs_;  // learn_topics()
  // The handle of one of output_topics() (by address: callers pass the config's own strings).
  RdKafka::Topic* handle_of(const std::string& topic) const {
    const auto order = output_topics();
    for (size_t i = 0; i < outputs_.size() && i < order.size(); ++i) {
      if (&topic == order[i]) return outputs_[i].get();
    }
    return nullptr;
  }
  // Asks the broker for the changelog's true end (read_uncommitted): see restore().
  std::unique_ptr<RdKafka::KafkaConsumer> watermarks_;

  bool in_txn_ = false;
  bool txn_failed_ = false;  // librdkafka failed the open transaction: abort it at the next commit
  bool abandoned_ = false;
  Clock::time_point txn_started_;
  std::optional<Error> failure_;  // set inside callbacks, raised by run()

  std::map<PartitionId, int64_t> committed_offset_;  // next offset to consume, as committed
  std::map<PartitionId, int64_t> next_offset_;       // next offset to consume, as processed
  std::map<PartitionId, bool> at_end_;
  // The unit's notifications and dead letters, in the order they came, produced at its commit
  // (produce_changes says why). Their keys and values lie end to end in one buffer, kept from unit
  // to unit.
  struct Held {
    const std::string* topic;
    std::size_t key_at, key_size, value_at, value_size;
    std::unique_ptr<RdKafka::Headers> headers;
    PartitionId from;  // the input partition whose event or timer made it
  };
  PartitionId from_ = 0;  // the input partition being worked on: process(), the timer passes
  std::string held_bytes_;
  std::vector<Held> held_;
  v1::Event event_;  // process()'s
  // `append` writes the value at the end of held_bytes_ (a notification serializes itself there).
  template <class Append>
  void hold(const std::string& topic, std::string_view key, Append&& append,
            std::unique_ptr<RdKafka::Headers> headers = nullptr) {
    const std::size_t key_at = held_bytes_.size();
    held_bytes_.append(key);
    const std::size_t value_at = held_bytes_.size();
    append(held_bytes_);
    held_.push_back({&topic, key_at, key.size(), value_at, held_bytes_.size() - value_at,
                     std::move(headers), from_});
  }
  void drop_held() {
    held_.clear();
    held_bytes_.clear();
  }

  bool caught_up() const;
  // Full, or failed by librdkafka: either way it is to be committed (or aborted) now.
  bool batch_full() const { return driver_.full() || (driver_.in_unit() && txn_failed_); }
  Result<void> handle(RdKafka::Message& message);  // one result of consume()

  void log_counts(const std::string& prefix) const {
    const auto& c = driver_.counts();
    spdlog::info(
        "{}consumed {} dead-lettered {} notifications {} timers fired {} retired {} "
        "transactions {}",
        prefix, c.events + c.refused, c.rejected, c.notified, c.fired, c.retired, c.units);
  }
  pipeline::DriverCounts at_begin_;  // for the per-transaction log line
  std::optional<Clock::time_point> first_assigned_;
  bool assigned_ = false;  // an assignment (maybe empty) is in force
};

Service::Service(ServiceConfig config, const rules::RuleBook& rules, pipeline::StateStore& db,
                 ServiceObserver* observer)
    : impl_(std::make_unique<Impl>(std::move(config), rules, db, stop_, observer)) {}
Service::~Service() = default;
Result<void> Service::run() { return impl_->run(); }

Result<void> Service::Impl::start() {
  SAMORDNA_TRYV(driver_.open());
  {
    // RocksDB's estimates (exact after a compaction): what a restart with a full store finds.
    const auto [episodes, timers] = driver_.estimate_size();
    spdlog::info("state opened: about {} episodes and {} pending timers", episodes, timers);
  }
  SAMORDNA_TRYV(ensure_topics(config_.kafka, std::chrono::milliseconds(kTimeoutMs)));

  SAMORDNA_TRY(producer,
               make_transactional_producer(config_.kafka, "samordna-" + config_.kafka.instance_id,
                                           config_.transaction_timeout_ms, {}, &deliveries_));
  producer_ = std::move(producer);
  // Fences and aborts whatever this instance's predecessor left open.
  if (TxnError e{std::unique_ptr<RdKafka::Error>(producer_->init_transactions(kTimeoutMs))}) {
    return to_error("init_transactions", *e.error);
  }
  std::vector<std::string> names;
  for (const std::string* topic : output_topics()) names.push_back(*topic);
  SAMORDNA_TRY(outputs, learn_topics(*producer_, names, std::chrono::milliseconds(kTimeoutMs)));
  outputs_ = std::move(outputs);
  SAMORDNA_TRY(consumer,
               make_consumer(config_.kafka,
                             {
                                 {"group.id", config_.kafka.group_id},
                                 {"auto.offset.reset", "earliest"},
                                 {"enable.partition.eof", "true"},
                                 {"fetch.wait.max.ms", kEndOfInputFetchWaitMs},
                                 {"partition.assignment.strategy", "range"},
                                 {"session.timeout.ms", "10000"},
                                 {"heartbeat.interval.ms", "1000"},
                                 // Static membership (KIP-345): a restarted instance takes its
                                 // partitions back at once instead of waiting out the dead
                                 // member's session; a second process with the same id is
                                 // fenced by the coordinator.
                                 {"group.instance.id", "samordna-" + config_.kafka.instance_id},
                             },
                             this));
  consumer_ = std::move(consumer);
  SAMORDNA_TRY(watermarks,
               make_consumer(config_.kafka, {
                                                {"group.id", config_.kafka.group_id + "-restore"},
                                                {"isolation.level", "read_uncommitted"},
                                            }));
  watermarks_ = std::move(watermarks);
  if (auto err = consumer_->subscribe({config_.kafka.topics.events});
      err != RdKafka::ERR_NO_ERROR) {
    return fail(Errc::kUnavailable, "subscribe: " + RdKafka::err2str(err));
  }
  spdlog::info("samordna run: instance {} group {} input {} state {}", config_.kafka.instance_id,
               config_.kafka.group_id, config_.kafka.topics.events, config_.state_dir.string());
  return ok();
}

// Brings RocksDB level with the committed changelog of partition p, from its checkpoint.
//
// The end to read to is the partition's high watermark, asked read_uncommitted. A read_committed
// handle (librdkafka >= 1.7.1 honours isolation.level here) answers the last stable offset
// instead, which an open transaction of a dead instance pins where that transaction began: every
// record committed after it (this instance's own, before a kill) would then look absent, and a
// store that a kill left behind its changelog would resume from stale states and fire timers a
// second time. Records between the two ends are read once the broker has settled the open
// transaction (read_committed stops at the stable offset until then).
Result<void> Service::Impl::restore(PartitionId p) {
  const std::string& topic = config_.kafka.topics.changelog;
  SAMORDNA_TRY(from, driver_.checkpoint(p));
  int64_t low = 0, high = 0;
  auto watermarks = [&](RdKafka::Handle& handle, int64_t* lo, int64_t* hi) -> Result<void> {
    // A topic created a moment ago may not have a leader yet: retry what the broker calls
    // transient.
    for (const auto give_up = Clock::now() + std::chrono::milliseconds(kTimeoutMs);;) {
      const auto err =
          handle.query_watermark_offsets(topic, static_cast<int32_t>(p), lo, hi, kTimeoutMs);
      if (err == RdKafka::ERR_NO_ERROR) return ok();
      // An unknown topic here is one created a moment ago (errors.h calls it abortable because
      // elsewhere it is final).
      const bool transient =
          classify(err) == ErrorClass::kRetriable || err == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART;
      if (!transient || Clock::now() > give_up) {
        return to_error("changelog watermarks of partition " + std::to_string(p), err);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  };
  SAMORDNA_TRYV(watermarks(*watermarks_, &low, &high));
  from = std::max(from, low);
  if (from >= high) {
    spdlog::info("restored partition {}: nothing to read (checkpoint {}, end {})", p, from, high);
    return ok();
  }
  {
    int64_t stable_low = 0, stable = 0;
    SAMORDNA_TRYV(watermarks(*producer_, &stable_low, &stable));  // read_committed: the LSO
    if (stable < high) {
      spdlog::info(
          "restoring partition {}: an open transaction holds the changelog at offset {} (end "
          "{}); waiting for the broker to settle it (at most transactionTimeoutMs)",
          p, stable, high);
    }
  }

  const auto started = Clock::now();
  SAMORDNA_TRY(reader,
               make_consumer(config_.kafka, {
                                                {"group.id", config_.kafka.group_id + "-restore"},
                                                {"enable.partition.eof", "true"},
                                                // The last fetch finds only the commit marker: do
                                                // not let the broker hold it for 500 ms.
                                                {"fetch.wait.max.ms", "10"},
                                            }));
  std::unique_ptr<RdKafka::TopicPartition> tp(
      RdKafka::TopicPartition::create(topic, static_cast<int32_t>(p), from));
  std::vector<RdKafka::TopicPartition*> assignment{tp.get()};
  reader->assign(assignment);

  size_t records = 0;
  int64_t position = from;
  // Reading stops at the end of what is committed. An open transaction of a dead instance blocks
  // that end until the broker aborts it (transaction.timeout.ms), so wait at least that long.
  const auto deadline =
      started + std::chrono::milliseconds(config_.transaction_timeout_ms + kTimeoutMs);
  while (position < high) {
    if (Clock::now() > deadline) {
      reader->close();
      return fail(Errc::kUnavailable, "restore of partition " + std::to_string(p) +
                                          " did not reach the changelog end in time");
    }
    std::unique_ptr<RdKafka::Message> m(reader->consume(200));
    if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      position = std::max(position, m->offset());
      continue;
    }
    if (m->err() == RdKafka::ERR__TIMED_OUT) continue;
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      reader->close();
      return fail(Errc::kUnavailable, "reading the changelog: " + m->errstr());
    }
    position = m->offset() + 1;
    ++records;
    const std::string key = m->key() ? *m->key() : std::string();
    auto corrupt = [&](const char* what) {
      reader->close();
      return fail(Errc::kCorruption, "changelog partition " + std::to_string(p) + " offset " +
                                         std::to_string(m->offset()) + " is not " + what);
    };
    if (key == kChangelogClockKey) {
      const std::string text(static_cast<const char*>(m->payload()), m->len());
      int64_t seconds = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
      if (ec != std::errc() || end != text.data() + text.size()) return corrupt("a clock record");
      driver_.restore_clock(p, from_unix(seconds));
      continue;
    }
    if (m->payload() == nullptr) {  // a tombstone: the episode was retired
      SAMORDNA_TRYV(driver_.restore_retired(p, key, position));
      continue;
    }
    auto restored = driver_.restore_episode(
        p, std::string_view(static_cast<const char*>(m->payload()), m->len()), position);
    if (!restored) {
      if (restored.error().code == Errc::kCorruption) return corrupt("an EpisodeState");
      return restored.error();
    }
  }
  reader->close();
  SAMORDNA_TRYV(driver_.restore_done(p, position));
  spdlog::info(
      "restored partition {}: {} changelog records from offset {} to {} in {} ms", p, records, from,
      position,
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
  return ok();
}

void Service::Impl::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                                 std::vector<RdKafka::TopicPartition*>& partitions) {
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    // Committed offsets first: they fence nothing by themselves, but every transaction carries an
    // offset for every assigned partition, so those must be known before any timer fires.
    // A dead instance's pending transactional offsets keep the fetch unstable until the broker
    // aborts its transaction: allow for the transaction timeout, as the restore does.
    if (auto fetch = consumer->committed(partitions, config_.transaction_timeout_ms + kTimeoutMs);
        fetch != RdKafka::ERR_NO_ERROR) {
      // Without them no transaction could carry an offset for these partitions, so no zombie
      // would be fenced on them: fail, and let a restart try again.
      failure_ = Error{Errc::kUnavailable, "committed offsets: " + RdKafka::err2str(fetch)};
      return;
    }
    for (auto* tp : partitions) {
      const auto p = static_cast<PartitionId>(tp->partition());
      if (auto restored = restore(p); !restored) {
        failure_ = restored.error();
        return;
      }
      if (auto added = driver_.add_partition(p); !added) {
        failure_ = added.error();
        return;
      }
      committed_offset_[p] = tp->offset() >= 0 ? tp->offset() : RdKafka::Topic::OFFSET_INVALID;
      next_offset_[p] = committed_offset_[p];
      at_end_[p] = false;
      spdlog::info("assigned partition {} (committed offset {})", p, tp->offset());
    }
    // Restoring moved the heads of the restored partitions back.
    if (auto reloaded = driver_.open(); !reloaded) failure_ = reloaded.error();
    if (!first_assigned_) first_assigned_ = Clock::now();
    assigned_ = true;  // possibly nothing: more instances than partitions
    consumer->assign(partitions);
    return;
  }
  // Revoked (or lost): finish what is in flight while the partitions are still ours, and write the
  // store (write-behind) so that it is level with the changelog; the next assignment restores what
  // another instance did since.
  if (!abandoned_ && !failure_) {
    if (auto settled = commit_and_spill(); !settled) failure_ = settled.error();
  }
  for (auto* tp : partitions) {
    const auto p = static_cast<PartitionId>(tp->partition());
    driver_.remove_partition(p);
    committed_offset_.erase(p);
    next_offset_.erase(p);
    at_end_.erase(p);
    if (observer_ != nullptr) observer_->lag(p, std::nullopt);
    spdlog::info("revoked partition {}", p);
  }
  assigned_ = false;
  consumer->unassign();
}

Result<void> Service::Impl::begin() {
  if (TxnError e{std::unique_ptr<RdKafka::Error>(producer_->begin_transaction())}) {
    return to_error("begin_transaction", *e.error);
  }
  in_txn_ = true;
  txn_started_ = Clock::now();
  at_begin_ = driver_.counts();
  deliveries_.take();
  drop_held();  // nothing is left from an earlier unit: committed or aborted, or the process ended
  stop_if_asked(/*in_commit=*/false);
  return ok();
}

Result<void> Service::Impl::notify(const v1::Notification& n) {
  if (observer_ != nullptr) observer_->notification(n);
  hold(config_.kafka.topics.notifications, n.episode_id(), [&](std::string& out) {
    SAMORDNA_CHECK(n.AppendToString(&out), "a notification serializes");
  });
  return ok();
}

Result<void> Service::Impl::produce(const std::string& topic, int32_t partition,
                                    std::string_view key, std::optional<std::string_view> value,
                                    RdKafka::Headers* headers) {
  // By the topic's handle where there is one and no headers: producing by name looks the topic up
  // under librdkafka's write lock on every record (the locks were a quarter of produce's cost).
  RdKafka::Topic* handle = headers == nullptr ? handle_of(topic) : nullptr;
  while (true) {
    void* payload = value ? const_cast<char*>(value->data()) : nullptr;
    const size_t size = value ? value->size() : 0;
    const auto err =
        handle != nullptr
            ? producer_->produce(handle, partition, RdKafka::Producer::RK_MSG_COPY, payload, size,
                                 key.data(), key.size(), nullptr)
            : producer_->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY, payload, size,
                                 key.data(), key.size(), 0, headers, nullptr);
    if (err == RdKafka::ERR_NO_ERROR) return ok();
    if (err == RdKafka::ERR__QUEUE_FULL) {
      producer_->poll(50);
      continue;
    }
    if (err == RdKafka::ERR__STATE && in_txn_) {
      // librdkafka has failed the open transaction in the background (e.g. its messages timed
      // out: the process stalled longer than transaction.timeout.ms). This record goes with it;
      // the commit that follows at once reports why, and aborts and rewinds or exits.
      delete headers;
      txn_failed_ = true;
      return ok();
    }
    delete headers;  // not taken over on failure
    // For ERR__FATAL librdkafka's own reason, e.g. fenced: the broker aborted a transaction that
    // outlived its timeout (a stall), or another instance took this one's id.
    std::string reason;
    const auto code = underlying_error(*producer_, err, reason);
    return with_age(to_error("produce to " + topic, code, reason));
  }
}

Result<void> Service::Impl::dead_letter(RdKafka::Message& message, const std::string& code,
                                        const std::string& reason) {
  std::unique_ptr<RdKafka::Headers> headers(RdKafka::Headers::create());
  headers->add(kHeaderCode, code);
  headers->add(kHeaderReason, reason);
  headers->add(kHeaderSourceTopic, message.topic_name());
  headers->add(kHeaderSourcePartition, std::to_string(message.partition()));
  headers->add(kHeaderSourceOffset, std::to_string(message.offset()));
  spdlog::warn("dead-lettered {}[{}]@{}: {}: {}", message.topic_name(), message.partition(),
               message.offset(), code, reason);
  if (observer_ != nullptr) observer_->dead_letter(code);
  hold(
      config_.kafka.topics.deadletter, message.key() ? *message.key() : std::string_view(),
      [&](std::string& out) {
        out.append(static_cast<const char*>(message.payload()), message.len());
      },
      std::move(headers));
  return ok();
}

Result<void> Service::Impl::process(RdKafka::Message& message) {
  const auto p = static_cast<PartitionId>(message.partition());
  from_ = p;
  at_end_[p] = false;
  next_offset_[p] = message.offset() + 1;
  // A record that is not an event goes to the dead letters in the unit of work its offset commits
  // with.
  auto refuse = [&](const char* reason) -> Result<void> {
    SAMORDNA_TRYV(driver_.refused());
    return dead_letter(message, "malformed", reason);
  };
  // One Event, parsed into again and again: a parse clears it and keeps some of what it allocated
  // (`perf`, large batches: parse and clear 4.6 % of the main thread, where a new one's parse and
  // destructor were 5.0 %). The engine keeps no pointer to it past Driver::event.
  v1::Event& event = event_;
  if (!event.ParseFromArray(message.payload(), static_cast<int>(message.len()))) {
    return refuse("not a samordna.v1.Event protobuf");
  }
  // Protobuf accepts an empty record and most short junk as a message with no fields set: without
  // an episodeId it is not an event, whatever its key says.
  if (event.episode_id().empty()) {
    return refuse(message.len() == 0 ? "an empty record is not a samordna.v1.Event"
                                     : "decodes as protobuf but has no episodeId: not a "
                                       "samordna.v1.Event");
  }
  const std::string key = message.key() ? *message.key() : std::string();
  if (key != event.episode_id()) {
    // Another key may route the episode's other events to another partition, and its state there.
    return refuse("the message key is not the event's episodeId");
  }
  // In replay, as in the simulator, every timer the clock has passed fires before the event (the
  // driver). Live, a backlog after downtime drains in the run loop's passes, between batches of
  // messages; an event that meets an overdue deadline first settles it itself (the state
  // machine's miss_overdue).
  SAMORDNA_TRY(outcome, driver_.event(p, event));
  if (observer_ != nullptr) observer_->event(event, outcome.kind);
  if (outcome.kind == pipeline::Outcome::Kind::kRejected) {
    return dead_letter(message, outcome.code(), outcome.rejection->reason);
  }
  return ok();
}

// librdkafka adds a partition to the open transaction (AddPartitionsToTxn) 1 ms after the first
// record to it, one request for all the partitions first written within that millisecond; and
// librdkafka 2.0.2 spins its main thread through the millisecond (its bug #4684, fixed in 2.3.1).
// So the commit writes everything it holds in one burst, the first record of every partition
// first: about one registration a transaction, where producing each record as it came took about
// 3.5 (README.md, run 11).
Result<void> Service::Impl::produce_changes(const pipeline::Changes& changes) {
  const auto& topics = config_.kafka.topics;
  const std::string_view bytes = held_bytes_;
  auto held = [&](Held& h) {
    return produce(*h.topic, RdKafka::Topic::PARTITION_UA, bytes.substr(h.key_at, h.key_size),
                   bytes.substr(h.value_at, h.value_size), h.headers.release());
  };
  // The new state of every episode the transaction touched goes to the changelog (a tombstone for
  // a retired one: the record was serialized once, for the store too), and its public view to the
  // compacted episodes topic, what the read side builds from.
  auto changelog = [&](const pipeline::EpisodeChange& change) {
    return produce(topics.changelog, static_cast<int32_t>(change.partition), change.episode_id,
                   change.state != nullptr ? std::optional(change.record) : std::nullopt);
  };
  auto view = [&](const pipeline::EpisodeChange& change) {
    return produce(topics.episodes, RdKafka::Topic::PARTITION_UA, change.episode_id,
                   change.state != nullptr ? std::optional(change.view) : std::nullopt);
  };
  // Every topic's records in their order; across topics, the first record of every partition
  // within the first few produced. First the few: the first change of each input partition (the
  // changes come in partition order), its changelog record and its view (keyed by episode, as the
  // input, views go to their input's partition when the topics have as many), and the dead
  // letters (in their order).
  const auto& episodes = changes.episodes;
  std::vector<bool> first(episodes.size(), false);
  std::optional<PartitionId> last;
  for (std::size_t i = 0; i < episodes.size(); ++i) {
    if (episodes[i].partition == last) continue;
    last = episodes[i].partition;
    first[i] = true;
    SAMORDNA_TRYV(changelog(episodes[i]));
    SAMORDNA_TRYV(view(episodes[i]));  // the views, as the notifications below
  }
  // And the first notification each input partition made: with as many partitions as the input
  // and the same key hash, notifications go to their input's partition, and the first from each
  // would otherwise come as late as its input's turn. Each is the first of every episode of its
  // input partition, so each episode's notifications stay in their order.
  std::vector<bool> early(held_.size(), false);
  std::vector<PartitionId> seen;
  for (std::size_t k = 0; k < held_.size(); ++k) {
    Held& h = held_[k];
    if (h.topic != &topics.deadletter) {
      if (std::find(seen.begin(), seen.end(), h.from) != seen.end()) continue;
      seen.push_back(h.from);
    }
    early[k] = true;
    SAMORDNA_TRYV(held(h));
  }
  // Then the many, side by side: notifications, views and the rest of the changelog. Their
  // partitions are the keys' hash (the changelog's, the input's), and the first few records of
  // each reach them all.
  std::size_t n = 0;
  for (std::size_t i = 0; i < episodes.size() || n < held_.size(); ++i) {
    while (n < held_.size() && early[n]) ++n;
    if (n < held_.size()) {
      SAMORDNA_TRYV(held(held_[n++]));
    }
    if (i < episodes.size() && !first[i]) {
      SAMORDNA_TRYV(view(episodes[i]));
      SAMORDNA_TRYV(changelog(episodes[i]));
    }
  }
  drop_held();
  // Every clock the transaction moved, after its partition's episodes.
  for (const auto& [p, clock] : changes.clocks) {
    const std::string value = std::to_string(to_unix(clock));
    SAMORDNA_TRYV(produce(topics.changelog, static_cast<int32_t>(p), kChangelogClockKey, value));
  }
  return ok();
}

void Service::Impl::stop_if_asked(bool in_commit) {
  using Where = TestStop::Where;
  const int64_t transaction = static_cast<int64_t>(driver_.counts().units) + 1;
  auto& stops = config_.test_stops;
  const auto it = std::find_if(stops.begin(), stops.end(), [&](const TestStop& s) {
    return s.transaction == transaction && (s.where != Where::kBegun) == in_commit;
  });
  if (it == stops.end()) return;
  const Where where = it->where;
  stops.erase(it);  // once: an aborted transaction is committed again under its number
  if (where == Where::kFlushed) producer_->flush(kTimeoutMs);
  spdlog::warn("stopping {} transaction {} (SAMORDNA_TEST_STOPS)",
               where == Where::kBegun     ? "at the start of"
               : where == Where::kFlushed ? "with its records delivered in the commit of"
                                          : "in the commit of",
               transaction);
  spdlog::default_logger()->flush();
  std::raise(SIGSTOP);
}

Result<std::optional<std::map<PartitionId, int64_t>>> Service::Impl::commit(
    const pipeline::Changes& changes) {
  using Checkpoints = std::optional<std::map<PartitionId, int64_t>>;
  SAMORDNA_TRYV(produce_changes(changes));
  std::vector<std::unique_ptr<RdKafka::TopicPartition>> owned;
  std::vector<RdKafka::TopicPartition*> offsets;
  for (const auto& [p, next] : next_offset_) {
    if (next < 0) continue;
    owned.emplace_back(RdKafka::TopicPartition::create(config_.kafka.topics.events,
                                                       static_cast<int32_t>(p), next));
    offsets.push_back(owned.back().get());
  }
  std::unique_ptr<RdKafka::ConsumerGroupMetadata> group(consumer_->groupMetadata());
  if (!offsets.empty()) {
    TxnError e{std::unique_ptr<RdKafka::Error>(
        producer_->send_offsets_to_transaction(offsets, group.get(), kTimeoutMs))};
    if (e) {
      if (classify(*e.error) == ErrorClass::kAbortable) {
        SAMORDNA_TRYV(abort_unit("send_offsets_to_transaction: " + e.what()));
        return Checkpoints{};
      }
      return with_age(to_error("send_offsets_to_transaction", *e.error));
    }
  }
  stop_if_asked(/*in_commit=*/true);
  // A record was refused (produce() said ERR__STATE): librdkafka has failed the transaction, and
  // send_offsets_to_transaction normally reports why just above. Never commit one with a gap.
  if (txn_failed_) {
    SAMORDNA_TRYV(abort_unit("a record was refused: librdkafka failed the transaction"));
    return Checkpoints{};
  }
  while (true) {
    TxnError e{std::unique_ptr<RdKafka::Error>(producer_->commit_transaction(kTimeoutMs))};
    if (!e) break;
    const ErrorClass c = classify(*e.error);
    if (c == ErrorClass::kRetriable) continue;
    if (c == ErrorClass::kAbortable) {
      SAMORDNA_TRYV(abort_unit("commit_transaction: " + e.what()));
      return Checkpoints{};
    }
    // Fenced, or the transaction timed out (fatal in librdkafka 2.0.2): this process must go; a
    // restart aborts what is open and restores from the changelog.
    return with_age(to_error("commit_transaction", *e.error));
  }
  in_txn_ = false;
  if (observer_ != nullptr) observer_->transaction(true);
  producer_->poll(0);  // serve the last delivery reports: they carry the changelog offsets
  committed_offset_ = next_offset_;
  std::map<PartitionId, int64_t> checkpoints;
  for (const auto& [p, next] : deliveries_.take()) checkpoints[static_cast<PartitionId>(p)] = next;
  const auto& c = driver_.counts();
  spdlog::debug(
      "committed transaction {}: events {} timers fired {} notifications {} dead letters {} "
      "changelog records {}",
      c.units + 1, c.events + c.refused - at_begin_.events - at_begin_.refused,
      c.fired - at_begin_.fired, c.notified - at_begin_.notified, c.rejected - at_begin_.rejected,
      changes.episodes.size() + changes.clocks.size());
  return Checkpoints{std::move(checkpoints)};
}

Result<void> Service::Impl::commit_unit(bool reload) {
  SAMORDNA_TRY(committed, driver_.commit());
  if (committed || !reload || config_.write_behind_episodes == 0) return ok();
  return restore_assigned();
}

// With write-behind an aborted unit takes everything held since the last store write with it
// (the driver's drop_unit): the engine is at that write, behind the changelog's last commit, and
// every assigned partition is brought level as on assignment (or after a crash).
Result<void> Service::Impl::restore_assigned() {
  for (const auto& [p, offset] : committed_offset_) {
    (void)offset;
    SAMORDNA_TRYV(restore(p));
    SAMORDNA_TRYV(driver_.add_partition(p));
  }
  return driver_.open();
}

// librdkafka 2.0.2 reports a transaction that the broker aborted on its timeout as "fenced by a
// newer instance" (the broker bumped the epoch): say how long it had been open.
std::string Service::Impl::txn_age_note() const {
  const auto open_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - txn_started_).count();
  if (!in_txn_ || open_ms <= config_.transaction_timeout_ms) return {};
  return " (the transaction had been open " + std::to_string(open_ms) +
         " ms, longer than transactionTimeoutMs " + std::to_string(config_.transaction_timeout_ms) +
         ": the broker aborted it; was the process stalled?)";
}

// Aborts the open transaction and rewinds the consumer to the last commit; the driver drops the
// unit of work when commit() reports it aborted.
Result<void> Service::Impl::abort_unit(const std::string& why) {
  spdlog::warn("aborting transaction: {}", why);
  while (true) {
    TxnError e{std::unique_ptr<RdKafka::Error>(producer_->abort_transaction(kTimeoutMs))};
    if (!e) break;
    // Retriable: the flush of what was in flight outlasted the call; it goes on where it was.
    if (classify(*e.error) == ErrorClass::kRetriable) continue;
    return with_age(to_error("abort_transaction", *e.error));
  }
  in_txn_ = false;
  txn_failed_ = false;
  drop_held();  // made again from their input, re-read
  if (observer_ != nullptr) observer_->transaction(false);
  for (const auto& [p, committed] : committed_offset_) {
    next_offset_[p] = committed;
    at_end_[p] = false;
    // Nothing committed yet for p: the group began it at the beginning (auto.offset.reset).
    std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(
        config_.kafka.topics.events, static_cast<int32_t>(p),
        committed >= 0 ? committed : RdKafka::Topic::OFFSET_BEGINNING));
    if (auto err = consumer_->seek(*tp, kTimeoutMs); err != RdKafka::ERR_NO_ERROR) {
      return fail(Errc::kUnavailable,
                  "rewind partition " + std::to_string(p) + ": " + RdKafka::err2str(err));
    }
  }
  return ok();
}

void Service::Impl::report_gauges() {
  if (observer_ == nullptr) return;
  for (const auto& [p, committed] : committed_offset_) {
    // The end as the consumer last saw it (cached from fetches: no request to the broker).
    int64_t low = 0, high = 0;
    if (consumer_->get_watermark_offsets(config_.kafka.topics.events, static_cast<int32_t>(p), &low,
                                         &high) != RdKafka::ERR_NO_ERROR ||
        high < 0) {
      continue;
    }
    int64_t lag = 0;
    auto end = at_end_.find(p);
    auto next = next_offset_.find(p);
    // At the end with everything committed: nothing waits (the end may be a transaction marker).
    const bool level = end != at_end_.end() && end->second && next != next_offset_.end() &&
                       next->second == committed;
    if (!level) lag = std::max<int64_t>(0, high - (committed >= 0 ? committed : low));
    observer_->lag(p, lag);
  }
  observer_->timers_pending(driver_.estimate_size().second);
}

bool Service::Impl::caught_up() const {
  if (!assigned_) return false;  // before the first assignment, or between revoke and assign
  for (const auto& [p, next] : committed_offset_) {
    (void)next;
    if (auto it = at_end_.find(p); it == at_end_.end() || !it->second) return false;
    if (driver_.overdue(p)) return false;
  }
  return true;
}

Result<void> Service::Impl::handle(RdKafka::Message& m) {
  switch (m.err()) {
    case RdKafka::ERR_NO_ERROR:
      return process(m);
    case RdKafka::ERR__PARTITION_EOF: {
      const auto p = static_cast<PartitionId>(m.partition());
      at_end_[p] = true;
      if (config_.clock == ClockMode::kEventTime && config_.until_unix) {
        driver_.advance_clock(p, from_unix(*config_.until_unix));
      }
      return ok();
    }
    case RdKafka::ERR__TIMED_OUT:
      return ok();
    case RdKafka::ERR__FATAL: {
      std::string reason;
      const auto code = underlying_error(*consumer_, m.err(), reason);
      return to_error("consumer", code, reason);
    }
    default:
      spdlog::warn("consumer: {}", m.errstr());  // librdkafka retries transient errors itself
      return ok();
  }
}

Result<void> Service::Impl::run() {
  SAMORDNA_TRYV(start());
  auto last_report = Clock::now();
  auto last_gauges = Clock::now();
  bool backlog = false;  // the last round left due timers behind: do not wait for messages
  while (!stop_.load(std::memory_order_relaxed)) {
    if (failure_) return *failure_;
    int wait_ms = backlog ? 0 : 200;
    if (driver_.in_unit()) {
      wait_ms = std::min(
          wait_ms,
          static_cast<int>(std::max<int64_t>(
              0, config_.max_batch_ms -
                     std::chrono::duration_cast<std::chrono::milliseconds>(driver_.unit_age())
                         .count())));
    }
    // A round: the messages already fetched, up to a timer pass's worth (only the first is waited
    // for), then one bounded pass of timers per partition. So after downtime the overdue timers
    // and the waiting input drain side by side, neither starving the other.
    for (size_t taken = 0; taken < config_.timer_pass && !batch_full(); ++taken) {
      std::unique_ptr<RdKafka::Message> m(consumer_->consume(taken == 0 ? wait_ms : 0));
      if (failure_) return *failure_;
      const bool message = m->err() == RdKafka::ERR_NO_ERROR;
      SAMORDNA_TRYV(handle(*m));
      if (!message) break;
    }
    backlog = false;
    std::vector<PartitionId> assigned;  // a copy: commit() replaces committed_offset_
    for (const auto& [p, next] : committed_offset_) assigned.push_back(p);
    for (const PartitionId p : assigned) {
      if (batch_full()) {
        SAMORDNA_TRYV(commit_unit());
      }
      from_ = p;
      SAMORDNA_TRY(fired, driver_.timer_pass(p));
      (void)fired;
      if (driver_.overdue(p)) backlog = true;
    }
    if (driver_.in_unit() &&
        (batch_full() || driver_.unit_age() >= std::chrono::milliseconds(config_.max_batch_ms))) {
      SAMORDNA_TRYV(commit_unit());
    }
    if (config_.exit_at_end && caught_up()) {
      SAMORDNA_TRYV(commit_unit());  // the figure below includes the last commit
      if (!caught_up()) continue;    // the commit was aborted and the input rewound
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          Clock::now() - first_assigned_.value_or(Clock::now()))
                          .count();
      log_counts(fmt::format("caught up {} ms after the first assignment: ", ms));
      report_gauges();
      break;
    }
    if (Clock::now() - last_gauges >= std::chrono::seconds(1)) {
      last_gauges = Clock::now();
      report_gauges();
    }
    if (Clock::now() - last_report > std::chrono::seconds(10)) {
      last_report = Clock::now();
      log_counts("");
    }
  }
  // Clean shutdown: finish the transaction and write the store (a restart then reads nothing of the
  // changelog), then close the consumer (which revokes locally, with nothing left in flight; as a
  // static member it stays in the group until its session ends).
  SAMORDNA_TRYV(commit_and_spill());
  consumer_->close();
  consumer_.reset();
  watermarks_->close();
  watermarks_.reset();
  producer_->flush(kTimeoutMs);
  log_counts("stopped: ");
  return ok();
}

}  // namespace samordna::kafka
