#pragma once

// The Kafka side of `samordna serve` (cmd_serve.cc): the loop that feeds the read model from a
// kafka::Reader (connectors/kafka/reader.h: the consuming itself). Kept in engine/app because
// connectors/serve is Kafka-free (the layering lets no connector include another) and
// connectors/kafka should not know the read model. Audit records go through
// kafka::RecordProducer (connectors/kafka/record_producer.h).

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "connectors/kafka/config.h"
#include "connectors/kafka/record_producer.h"
#include "connectors/serve/api.h"
#include "connectors/serve/read_model.h"
#include "engine/core/result.h"

namespace samordna::app {

// Consumes the episodes, notifications and audit topics from the offsets the read model stored
// (from the beginning where it has none), read_committed, and applies them batch by batch, each
// batch in one SQLite transaction with its offsets. It assigns every partition itself (no group
// membership, nothing committed to Kafka): every instance is a complete replica.
//
// Threads: one thread of its own; status() from any thread.
class ReadModelFeed {
 public:
  struct Options {
    size_t max_batch = 2000;     // records per SQLite transaction
    int max_batch_ms = 100;      // how long a batch collects records
    int lag_interval_ms = 1000;  // how often the brokers' ends are asked for the lag
    // How often the cluster is asked for partitions added to the topics (or the delivery status
    // topic created) since the start: they are read from their beginning, with no restart.
    int partition_check_ms = 30000;
  };

  static Result<std::unique_ptr<ReadModelFeed>> start(const kafka::KafkaConfig& config,
                                                      serve::ReadModel& model, Options options);
  ~ReadModelFeed();

  serve::ReadModelStatus status() const;
  // Set when the loop ended on an error it cannot recover from (the read model failed): the
  // process should exit and be restarted; the read model is consistent.
  std::optional<Error> failure() const;
  uint64_t applied() const { return applied_.load(); }
  void stop();

  struct Impl;

 private:
  explicit ReadModelFeed(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<uint64_t> applied_{0};
};

}  // namespace samordna::app
