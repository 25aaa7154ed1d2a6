#pragma once

// samordna as a Kafka service: consumes Events, keeps episode state and timers in RocksDB per
// partition, fires deadlines, and produces Notifications, exactly once.
//
// How exactly-once holds (connectors/kafka/README.md has the long form):
// - One Kafka transaction covers a batch of inputs (events and fired timers): the notifications,
//   the dead-lettered inputs, the new state of every episode touched (to the compacted changelog
//   topic, partition = input partition) and the input offsets (send_offsets_to_transaction with
//   the consumer group's metadata, so a zombie is fenced by the group coordinator). All of it is
//   produced at the commit (the notifications and dead letters are held until then): one
//   registration of partitions per transaction, and nothing on the broker to time out while a
//   batch is collected.
// - RocksDB is written only after that transaction committed, together with the changelog offset
//   it reached (the checkpoint). So RocksDB is never ahead of the committed input; if the process
//   dies between the Kafka commit and the RocksDB write it is behind, and restoring the partition
//   from its checkpoint to the end of the changelog brings it level. A partition is restored every
//   time it is assigned, on a fresh or a returning instance alike.
// - Write-behind (writeBehindEpisodes): RocksDB is written not after every transaction but at a
//   spill (enough episodes held, writeBehindSeconds passed, a rebalance, shutdown), always at a
//   committed point. An aborted transaction drops what is held, and the assigned partitions are
//   restored from the changelog as after a crash.
// - Every transaction carries offsets for every assigned partition, also one that only fired
//   timers, so an instance that lost its partitions cannot commit anything for them.
// - A restarted instance uses the same transactional id: init_transactions aborts what its
//   predecessor left open (librdkafka 2.0.2 cannot resume it).
//
// Rebalancing uses the eager range assignor: librdkafka 2.0.2's cooperative-sticky assignor has
// bugs fixed only later. The in-flight transaction is committed before partitions are given up.
//
// Threading: run() owns everything and runs on the calling thread; stop() may be called from a
// signal handler.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "connectors/kafka/config.h"
#include "engine/core/result.h"
#include "engine/pipeline/driver.h"
#include "rules/rule_set.h"

namespace samordna::kafka {

// What the service reports as it works, for metrics (engine/app turns it into Prometheus metrics;
// this module knows nothing of them). Called on the service's thread, in the run loop: each call
// must be cheap. The inputs of a transaction (events, dead letters, notifications, timers fired)
// are reported as they are processed; transaction() then says whether they count (committed) or
// will come again (aborted: the input is re-read and reported again). Never personal data: an
// implementation reads kinds and codes, not contents.
class ServiceObserver {
 public:
  virtual ~ServiceObserver() = default;
  virtual void event(const v1::Event& event, pipeline::Outcome::Kind outcome) = 0;
  virtual void dead_letter(std::string_view code) = 0;
  virtual void notification(const v1::Notification& notification) = 0;
  // A timer taken off the store, `late` after its fire time: by the wall clock with
  // ClockMode::kWall, by the partition's event-time clock with kEventTime.
  virtual void timer_fired(std::chrono::duration<double> late) = 0;
  virtual void transaction(bool committed) = 0;
  // About once a second: records between the committed offset and the end of each assigned
  // partition (nullopt: the partition was revoked), and RocksDB's estimate of pending timers.
  virtual void lag(pipeline::PartitionId partition, std::optional<int64_t> records) = 0;
  virtual void timers_pending(uint64_t estimate) = 0;
};

class Service {
 public:
  // `observer` (optional) must outlive the service.
  Service(ServiceConfig config, const rules::RuleBook& rules, pipeline::StateStore& db,
          ServiceObserver* observer = nullptr);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Runs until stop() is called (clean shutdown: the open transaction is committed, or aborted if
  // the broker refuses it, and the consumer closed) or a fatal error (fenced, transaction timed
  // out, broker gone for good, store failure). A static member does not leave the group on close:
  // its partitions wait for it (or for its session timeout, 10 s) so that a restart takes them back
  // without a rebalance.
  Result<void> run();

  // Async-signal-safe.
  void stop() { stop_.store(true, std::memory_order_relaxed); }

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stop_{false};
};

}  // namespace samordna::kafka
