#pragma once

// samordna as a Kafka service: consumes Events, keeps episode state and timers in RocksDB per
// partition, fires deadlines, and produces Notifications, exactly once.
//
// How exactly-once holds (connectors/kafka/README.md has the long form):
// - One Kafka transaction covers a batch of inputs (events and fired timers): the notifications,
//   the dead-lettered inputs, the new state of every episode touched (to the compacted changelog
//   topic, partition = input partition) and the input offsets (send_offsets_to_transaction with
//   the consumer group's metadata, so a zombie is fenced by the group coordinator).
// - RocksDB is written only after that transaction committed, together with the changelog offset
//   it reached (the checkpoint). So RocksDB is never ahead of the committed input; if the process
//   dies between the Kafka commit and the RocksDB write it is behind, and restoring the partition
//   from its checkpoint to the end of the changelog brings it level. A partition is restored every
//   time it is assigned, on a fresh or a returning instance alike.
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
#include <memory>

#include "connectors/kafka/config.h"
#include "engine/core/result.h"
#include "engine/pipeline/driver.h"
#include "rules/rule_set.h"

namespace samordna::kafka {

class Service {
 public:
  Service(ServiceConfig config, const rules::RuleBook& rules, pipeline::StateStore& db);
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
