#pragma once

// Feeding Event JSON lines to Kafka: each line becomes a binary samordna.v1.Event keyed by its
// episodeId, sent by an idempotent producer (a retry never duplicates or reorders an episode's
// events) with Java's partitioner (codec.h). Used by `samordna produce` and `samordna demo`.

#include <functional>
#include <istream>
#include <map>
#include <string>

#include "connectors/kafka/config.h"
#include "engine/core/result.h"

namespace samordna::kafka {

struct FeedResult {
  size_t sent = 0;
  size_t bad_lines = 0;    // not JSON Events: not sent
  size_t undelivered = 0;  // sent but not acknowledged
  std::string first_error;
};

// Sends every line of `in` to `topic` and waits for every acknowledgement. `properties` go on top
// of the producer's own (e.g. message.timeout.ms). A line that does not parse is reported to
// `on_bad_line` with its number and a reason that never quotes it.
Result<FeedResult> produce_event_lines(
    const KafkaConfig& config, const std::string& topic, std::istream& in,
    const std::map<std::string, std::string>& properties,
    const std::function<void(size_t, const std::string&)>& on_bad_line);

}  // namespace samordna::kafka
