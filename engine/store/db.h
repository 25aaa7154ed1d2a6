#pragma once

// The RocksDB handle and its column families. One Db per state directory; the pipeline writes each
// input's changes (episode state, timers, later the outbox and input offsets) in one WriteBatch, so
// state and timers of an episode can never disagree after a crash. Key layouts: engine/README.md.

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.h"
#include "engine/store/txn.h"

namespace samordna::store {

// State is kept per Kafka partition: every key starts with the partition, so a partition's state
// can be restored, dropped or handed over on its own. The simulator uses partition 0.
using PartitionId = uint32_t;

enum class Family {
  kMeta,      // "default": format version, per-partition bookkeeping
  kEpisodes,  // [partition][episode_id] -> samordna.v1.EpisodeState
  kTimers,    // [partition][fire_at][kind][episode_id] -> "" (ordered by due time)
};

struct DbOptions {
  // Keep everything in memory (RocksDB over an in-memory Env): the same code path as on disk, for
  // tests and short simulations.
  bool in_memory = false;
  // Fsync each write. Off for the simulator, on for the service where Kafka does not back it.
  bool sync_writes = false;
  // Off for a store its input can rebuild (the simulator's feed): writes skip RocksDB's write-ahead
  // log and the column families flush together (atomic_flush), so a crash rolls the store back to
  // its last flush as a whole, never timers without their episodes. Close flushes everything.
  bool write_ahead_log = true;
  // Bound on memory held by the block cache and memtables: resident memory must not grow with the
  // number of episodes or pending timers.
  size_t block_cache_bytes = 64u << 20;
  size_t write_buffer_bytes = 32u << 20;
};

class Db {
 public:
  // Opens or creates the store; fails with a clear error when the directory is locked by another
  // process, unreadable, or of an unknown format version. A version 1 store is migrated in place
  // (its timer index dropped: engine/README.md "Format versions").
  static Result<std::unique_ptr<Db>> open(const std::filesystem::path& dir,
                                          const DbOptions& options);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  rocksdb::ColumnFamilyHandle* family(Family f) const;
  rocksdb::DB& raw() const { return *db_; }

  // Reads through `txn` when given: its own writes first, then the store.
  Result<std::optional<std::string>> get(Family f, std::string_view key, Txn* txn = nullptr) const;
  // An iterator over the family, through `txn` when given. `read` must outlive it.
  std::unique_ptr<rocksdb::Iterator> iterator(Family f, const rocksdb::ReadOptions& read,
                                              Txn* txn = nullptr) const;
  // A failed write names the state dir; a full disk says so. After a failed write RocksDB refuses
  // every later one (its background error), so the caller stops: nothing is half-written, and the
  // write-ahead log ends with at most a torn last record, which the next open tolerates.
  Result<void> write(rocksdb::WriteBatch& batch);
  Result<void> write(Txn& txn) { return write(*txn.batch().GetWriteBatch()); }
  // Writes every family's memtable to disk (all at once with atomic_flush) and waits: without the
  // write-ahead log, what makes a finished run durable, with an error to report if it cannot.
  Result<void> flush();

  const std::string& path() const { return path_; }

 private:
  Db() = default;
  Result<void> drop_timer_index();
  std::string path_;
  std::shared_ptr<rocksdb::Logger> info_log_;
  std::unique_ptr<rocksdb::Env> mem_env_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> families_;
  DbOptions options_;
};

// Maps a RocksDB status to the engine's error values, once, at this boundary. `dir`, when given, is
// the state dir: a full disk and a damaged write-ahead log get a message naming it and saying what
// to do.
Error to_error(const rocksdb::Status& status, std::string_view what, std::string_view dir = {});

// Big-endian encodings so that byte order is numeric order.
void put_u32(std::string& out, uint32_t v);
void put_i64_ordered(std::string& out, int64_t v);  // sign bit flipped: negative sorts first
uint32_t get_u32(std::string_view in);
int64_t get_i64_ordered(std::string_view in);

}  // namespace samordna::store
