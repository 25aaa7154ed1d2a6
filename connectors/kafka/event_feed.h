#pragma once

// Feeding Event JSON lines to Kafka through the Publisher (publisher.h): each line becomes a
// binary samordna.v1.Event keyed by its episodeId, sent in batches by samordna's idempotent
// producer (a retry never duplicates or reorders an episode's events) with Java's partitioner
// (codec.h). Used by `samordna produce` and `samordna demo`.

#include <chrono>
#include <functional>
#include <istream>
#include <string>

#include "connectors/kafka/client.h"
#include "connectors/kafka/config.h"
#include "engine/core/result.h"

namespace samordna::kafka {

struct FeedOptions {
  std::string topic;      // the events topic
  Properties properties;  // librdkafka properties on top of the publisher's own
  // How long each batch may take from being handed over until it is durable.
  std::chrono::milliseconds bound{30000};
  size_t batch_size = 500;  // events per batch
  // Checked between lines: true stops reading (a signal); what was sent is still awaited.
  std::function<bool()> interrupted;
};

struct FeedResult {
  size_t sent = 0;           // handed to the publisher
  size_t durable = 0;        // confirmed on the broker
  size_t bad_lines = 0;      // not JSON Events: not sent
  size_t undelivered = 0;    // sent but not confirmed: refused, or not within the bound
  size_t timed_out = 0;      // of undelivered: not confirmed within the bound (may still arrive)
  bool interrupted = false;  // FeedOptions::interrupted said stop before the end of the input
  std::string first_error;
};

// Sends every line of `in` to `options.topic` and waits for every batch's answer. A line that
// does not parse is reported to `on_bad_line` with its number and a reason that never quotes it.
// An error only for a configuration librdkafka refuses.
Result<FeedResult> produce_event_lines(
    const KafkaConfig& config, std::istream& in, const FeedOptions& options,
    const std::function<void(size_t, const std::string&)>& on_bad_line);

// The same with lines from `next_line`, which sets its argument to the next line and returns
// true, or returns false at the end (or when a read was interrupted): for a caller that reads a
// pipe itself, so that a signal can end a blocked read (std::istream retries it).
Result<FeedResult> produce_event_lines(
    const KafkaConfig& config, const std::function<bool(std::string&)>& next_line,
    const FeedOptions& options, const std::function<void(size_t, const std::string&)>& on_bad_line);

}  // namespace samordna::kafka
