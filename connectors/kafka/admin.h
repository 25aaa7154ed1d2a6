#pragma once

// Topic administration at startup: check that samordna's four topics exist with compatible
// partition counts, and create the missing ones when the config allows it. Every call is bounded by
// its timeout: librdkafka itself retries an unreachable broker forever.
//
// Thread-safe: each call makes, uses and destroys its own short-lived client.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "connectors/kafka/config.h"
#include "engine/core/result.h"

namespace samordna::kafka {

// Makes sure the events, notifications, deadletter, changelog and episodes topics exist.
//
// Missing topics are created when config.create_topics (events, notifications and deadletter with
// config.partitions partitions; the changelog and the episodes compacted, with as many partitions
// as the events topic), else the error (kNotFound) lists exactly the missing ones. A topic created
// concurrently by another instance counts as created. Then the changelog must have as many
// partitions as the events topic (kConflict otherwise): partition p of the changelog holds the
// state of the episodes of events partition p.
//
// Errors: kUnavailable "cannot reach Kafka at HOST:PORT within N s" when no broker answers within
// `timeout`; kInvalidArgument for a bad property or a request the cluster refuses (replication
// factor above the broker count, a policy, authorization).
Result<void> ensure_topics(const KafkaConfig& config, std::chrono::milliseconds timeout);

// The partition count of `topic`: kNotFound if it does not exist, kUnavailable as above.
Result<int> partition_count(const KafkaConfig& config, const std::string& topic,
                            std::chrono::milliseconds timeout);

// One topic to create: `partitions` partitions, config.replication_factor replicas.
struct TopicSpec {
  std::string name;
  int partitions = 1;
  bool compact = false;  // cleanup.policy=compact
  // Further topic configs (e.g. cleanup.policy=compact,delete and retention.ms for a bounded
  // compacted topic); set after `compact`, so they win.
  std::map<std::string, std::string> configs = {};
};

// Creates the topics in one request; one that already exists counts as created (whatever its
// partition count: check with partition_count when it matters).
Result<void> create_topics(const KafkaConfig& config, const std::vector<TopicSpec>& topics,
                           std::chrono::milliseconds timeout);

// Deletes the topics; one that does not exist counts as deleted.
Result<void> delete_topics(const KafkaConfig& config, const std::vector<std::string>& topics,
                           std::chrono::milliseconds timeout);

// Every topic of the cluster (internal ones included) and its partition count.
Result<std::map<std::string, int>> list_topics(const KafkaConfig& config,
                                               std::chrono::milliseconds timeout);

}  // namespace samordna::kafka
