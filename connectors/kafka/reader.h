#pragma once

// The one consume loop for the processes that read whole topics rather than share them in a group:
// serve's read model, deliver's outbox, `samordna consume` and the demo's viewer. (`samordna run`
// is a group member with transactions, service.h; the intake's memory has its own reader,
// intake.h.) A Reader assigns the partitions itself, from offsets its caller keeps (in SQLite,
// in RocksDB, or none: from the beginning or the end), reads committed records only
// (client.h), and hands out plain records: no librdkafka type leaves connectors/kafka.
//
// Errors come through errors.h: a retriable one is logged and read past (librdkafka retries it
// itself); anything else ends the reading with an Error naming the code, never a record.
//
// Threads: one thread at a time (next(), lag() and commit() from the thread that reads).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "connectors/kafka/client.h"
#include "connectors/kafka/config.h"
#include "engine/core/result.h"

namespace samordna::kafka {

inline constexpr int64_t kFromBeginning = -2;  // librdkafka's OFFSET_BEGINNING
inline constexpr int64_t kFromEnd = -1;        // OFFSET_END

// One record as read: bytes, no librdkafka type.
struct Record {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::optional<std::string> key;
  std::string value;
  int64_t timestamp_ms = -1;  // the record's timestamp, -1 when it has none
  std::vector<std::pair<std::string, std::string>> headers;
};

using TopicPartition = std::pair<std::string, int32_t>;

struct PartitionStart {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = kFromBeginning;  // the next offset to read, or kFromBeginning / kFromEnd
};

// Every partition of `topics` starting at `from` (kFromBeginning or kFromEnd), or at the offset
// `stored` has for it. The partition counts come from the cluster (admin.h, bounded by `timeout`).
Result<std::vector<PartitionStart>> every_partition(
    const KafkaConfig& config, const std::vector<std::string>& topics, int64_t from,
    std::chrono::milliseconds timeout, const std::map<TopicPartition, int64_t>& stored = {});

class Reader {
 public:
  // Reads `partitions` from their start offsets. `extra` goes on top of client.h's consumer
  // properties; group.id defaults to "samordna-reader" (librdkafka needs one; nothing is committed
  // and no group is joined).
  static Result<std::unique_ptr<Reader>> assign(const KafkaConfig& config,
                                                const std::vector<PartitionStart>& partitions,
                                                const Properties& extra = {});
  // Joins consumer group `group` on `topic` (`samordna consume --group`): the group's committed
  // offsets, else auto.offset.reset from `extra`. commit() stores how far it read.
  static Result<std::unique_ptr<Reader>> subscribe(const KafkaConfig& config,
                                                   const std::string& topic,
                                                   const std::string& group,
                                                   const Properties& extra = {});
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  struct Next {
    enum class Kind {
      kRecord,   // `record` was read
      kEnd,      // `end` reached its end (every record up to the high watermark was handed out)
      kNothing,  // the wait passed
    };
    Kind kind = Kind::kNothing;
    Record record;
    TopicPartition end;
  };
  // The next record or partition end, waiting at most `wait`.
  Result<Next> next(std::chrono::milliseconds wait);

  // Records not yet read, summed over the assigned partitions (high watermark minus position, as
  // librdkafka last heard them); nullopt while one is unknown.
  std::optional<int64_t> lag();

  // For a reader of whole topics (assign()): the partitions of `topics` the cluster has now and
  // the reader is not assigned (partitions added to a topic, or a topic created since), added to
  // the assignment at the offset `stored` has for them, else from the beginning (a new partition
  // starts empty). Returns them. A topic the cluster does not know is left out, not an error.
  Result<std::vector<PartitionStart>> grow(const std::vector<std::string>& topics,
                                           std::chrono::milliseconds timeout,
                                           const std::map<TopicPartition, int64_t>& stored = {});
  // A group reader's offsets: the next offset to read per partition of its topic.
  Result<void> commit(const std::map<int32_t, int64_t>& next_offsets);

  // Leaves the group or the assignment. After it the Reader only awaits its destruction.
  void close();
  // As close(), but the librdkafka handle is never destroyed: once a topic it was assigned has been
  // deleted under it, librdkafka 2.0.2's destroy waits forever for its own thread. For a process
  // about to exit.
  void abandon();

  struct Impl;

 private:
  explicit Reader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace samordna::kafka
