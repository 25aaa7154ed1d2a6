#pragma once

// The deterministic simulator: the shared drive loop (engine/pipeline/driver.h) on the event-time
// clock over Event JSON lines, with notifications written as JSON lines. Rejected lines are
// reported with their line number and reason; processing goes on. A write that fails (a full disk,
// a closed pipe) is an error: the run never ends "ok" with notifications lost.

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/json_codec.h"
#include "engine/core/result.h"
#include "engine/core/time.h"
#include "engine/pipeline/driver.h"
#include "rules/rule_set.h"

namespace samordna::app {

struct SimulationStats {
  size_t lines = 0;
  size_t applied = 0;
  size_t duplicates = 0;
  size_t rejected = 0;
  size_t notifications = 0;
  size_t timers_fired = 0;
  size_t retired = 0;
  size_t spills = 0;  // without a write-ahead log: writes of the held episodes to the store
};

struct SimulationOptions {
  std::optional<Instant> until;                    // fire timers up to here after the last line
  std::optional<std::filesystem::path> state_dir;  // default: in memory
  std::chrono::seconds retention{std::chrono::hours{24 * 30}};
  // At the end, the public view (samordna.v1.EpisodeView) of every episode still in the state, as
  // JSON lines in episode id order: what `run` leaves on the compacted episodes topic.
  std::ostream* episodes = nullptr;
  // Episodes split over this many partitions as Kafka splits a topic (java_partition of the
  // episode id), each with its own store, clock and thread: what `run` does over a topic of that
  // many partitions. 1 keeps one clock for the whole feed. The output is the same for any number
  // of partitions unless a late event lands in the moment one partition's clock lags another's
  // (README, "Replay on both cores"); lines come out in input order either way, and the timers
  // --until fires at the end in the order of their issue times.
  int partitions = 1;
  // RocksDB's write-ahead log for the state dir. Off (`--no-wal`): faster, and after a crash the
  // state dir rolls back to its last flush as a whole; replay the feed into a fresh one.
  bool write_ahead_log = true;
  // RocksDB's memtables, for all partitions together (each partition's store takes its share).
  // A replay rewrites an episode's state at each of its events over some weeks of event time:
  // memtables that hold those weeks flush only each episode's last state, where the engine's
  // service default (32 MiB) flushed nearly every version and compaction then merged them. The
  // first 1,570,000 events of a national year took 0.85 of the CPU with 512 MiB a partition
  // (README, "Replay against the disk's own rate"). Memory is taken as the memtables fill.
  size_t memtable_bytes = size_t{1} << 30;
};

class Simulator {
 public:
  // `notifications` receives each notification's JSON line; `rejections` each rejection's.
  Simulator(const rules::RuleBook& rules, std::ostream& notifications, std::ostream& rejections);
  ~Simulator();

  Result<SimulationStats> run(std::istream& events, const SimulationOptions& options);

  // After run(): the final state of one episode (for `samordna explain`).
  Result<std::optional<storage::v1::EpisodeState>> episode(std::string_view id) const;
  // After run(): the final state of every episode still held, in id order per partition (for
  // `samordna whatif`, which runs with retention 0 so that every episode is).
  Result<void> each_episode(
      const std::function<Result<void>(const storage::v1::EpisodeState&)>& f) const;

 private:
  class Lines;
  struct Shard;
  Result<SimulationStats> run_partitioned(std::istream& events, const SimulationOptions& options);
  Result<void> write_views(std::ostream& out);
  size_t shard_of(std::string_view episode_id) const;

  const rules::RuleBook& rules_;
  std::ostream& notifications_;
  std::ostream& rejections_;
  std::unique_ptr<Lines> lines_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<pipeline::Driver> driver_;
  std::vector<std::unique_ptr<Shard>> shards_;  // run_partitioned's partitions
  JsonCodec json_;
};

}  // namespace samordna::app
