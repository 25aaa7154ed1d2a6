#pragma once

// Plain records (a key and bytes) to one topic, for the processes whose output is not an Event and
// not transactional: serve's audit log, deliver's statuses, dead letters and replay requests.
// The producer is client.h's idempotent one (acks=all, Java's partitioner), so the records of a
// key keep their order and a retry never duplicates one.
//
//   write(): returns once the record is on every in-sync replica, or fails after the bound (a
//            record the caller may not lose: an audit record before the answer it audits).
//   send():  queues the record and returns; a failed delivery is logged (a status that a later
//            one supersedes).
//
// Threads: write() and send() from any thread; a thread of its own serves delivery reports.

#include <chrono>
#include <memory>
#include <string>

#include "connectors/kafka/config.h"
#include "engine/core/result.h"

namespace samordna::kafka {

class RecordProducer {
 public:
  static Result<std::unique_ptr<RecordProducer>> create(const KafkaConfig& config,
                                                        std::string topic,
                                                        std::chrono::milliseconds bound);
  // Waits up to the bound for what is queued, then gives up the rest.
  ~RecordProducer();
  RecordProducer(const RecordProducer&) = delete;
  RecordProducer& operator=(const RecordProducer&) = delete;

  // kUnavailable "... not confirmed within N ms" after the bound; librdkafka's error otherwise.
  Result<void> write(const std::string& key, const std::string& value);
  Result<void> send(const std::string& key, const std::string& value);

  const std::string& topic() const;

  struct Impl;

 private:
  explicit RecordProducer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace samordna::kafka
