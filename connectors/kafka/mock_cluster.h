#pragma once

// An embedded Kafka for `samordna demo`: librdkafka's mock cluster, one broker on loopback inside
// this process, with the topics created up front. For demonstration only: it keeps everything in
// memory, has transactions but no Admin API (the demo's config sets createTopics false), and the
// tests run against a real broker instead (deploy/kafka/kafka.sh).
//
// Threads: start() from any thread; the cluster runs on librdkafka's own thread, started with
// every signal blocked, so a SIGINT still reaches the thread that waits for it.

#include <memory>
#include <string>
#include <vector>

#include "engine/core/result.h"

namespace samordna::kafka {

class MockCluster {
 public:
  static Result<std::unique_ptr<MockCluster>> start(const std::vector<std::string>& topics,
                                                    int partitions);
  ~MockCluster();  // the cluster goes with it
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }

  struct Impl;

 private:
  explicit MockCluster(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string bootstrap_;
};

}  // namespace samordna::kafka
