#include "engine/store/db.h"

#include <fcntl.h>
#include <rocksdb/cache.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/table_properties.h>
#include <rocksdb/write_buffer_manager.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <system_error>

#include "engine/core/check.h"

namespace samordna::store {
namespace {

// Bump when a key layout or record in engine/README.md changes incompatibly; a store of another
// version is refused on open rather than misread, unless open() knows how to migrate it.
constexpr uint32_t kFormatVersion = 2;
constexpr std::string_view kFormatVersionKey = "format_version";

// In Family order; kMeta is RocksDB's default family.
constexpr std::array<const char*, 3> kFamilyNames = {"default", "episodes", "timers"};

// Version 1 kept a second family, "timer_index" ([partition][len][episode_id][kind] -> fire_at), to
// cancel a timer by key. The engine takes the pending fire time from the episode state instead
// (issue 14: the family doubled every timer write), so version 2 is version 1 without it.
constexpr uint32_t kVersionWithTimerIndex = 1;
constexpr std::string_view kTimerIndexFamily = "timer_index";

// Marks a timers file for compaction when a run of its entries is mostly tombstones, so the
// tombstones that fired and cancelled timers leave at the head of the queue are dropped soon,
// instead of being stepped over by every due() until size-triggered compaction reaches them.
// RocksDB's own CompactOnDeletionCollector counts Delete only, not the SingleDelete the timer store
// uses (utilities/table_properties_collectors/compact_on_deletion_collector.cc, 7.8).
class TombstoneRunCollector final : public rocksdb::TablePropertiesCollector {
 public:
  rocksdb::Status AddUserKey(const rocksdb::Slice&, const rocksdb::Slice&, rocksdb::EntryType type,
                             rocksdb::SequenceNumber, uint64_t) override {
    ++in_window_;
    if (type == rocksdb::kEntrySingleDelete || type == rocksdb::kEntryDelete) ++tombstones_;
    if (in_window_ == kWindow) close_window();
    return rocksdb::Status::OK();
  }
  rocksdb::Status Finish(rocksdb::UserCollectedProperties*) override {
    if (in_window_ > 0) close_window();
    return rocksdb::Status::OK();
  }
  rocksdb::UserCollectedProperties GetReadableProperties() const override { return {}; }
  const char* Name() const override { return "samordna.TombstoneRunCollector"; }
  bool NeedCompact() const override { return need_compact_; }

 private:
  static constexpr size_t kWindow = 1024;
  void close_window() {
    if (tombstones_ * 2 >= in_window_) need_compact_ = true;
    in_window_ = 0;
    tombstones_ = 0;
  }
  size_t in_window_ = 0;
  size_t tombstones_ = 0;
  bool need_compact_ = false;
};

class TombstoneRunCollectorFactory final : public rocksdb::TablePropertiesCollectorFactory {
 public:
  rocksdb::TablePropertiesCollector* CreateTablePropertiesCollector(
      rocksdb::TablePropertiesCollectorFactory::Context) override {
    return new TombstoneRunCollector();
  }
  const char* Name() const override { return "samordna.TombstoneRunCollectorFactory"; }
};

rocksdb::ColumnFamilyOptions family_options(Family f, const DbOptions& options,
                                            const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions cf;
  // Memtables: each family may fill half the budget before it flushes; the write buffer manager
  // keeps the sum of all families within the budget.
  cf.write_buffer_size = std::max<size_t>(options.write_buffer_bytes / 2, 1u << 20);
  cf.max_write_buffer_number = 2;
  cf.level_compaction_dynamic_level_bytes = true;

  rocksdb::BlockBasedTableOptions table;
  // One LRU cache for every family, holding index and filter blocks too: without that, RocksDB
  // keeps each open file's index and filters on the heap, and memory grows with the data.
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // Index and filters in partitions of a few KiB, which the cache holds and evicts one by one.
  // Whole, a 64 MiB file of timer keys has a filter of some MiB, larger than a shard of the cache:
  // it was read back from disk on every lookup. Only the small top level of each file stays pinned.
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.metadata_block_size = 4096;
  table.pin_top_level_index_and_filter = true;
  if (f == Family::kEpisodes) {
    // Point lookups (every input reads its episode, and a new one is absent): a filter spares a
    // disk read when the key is absent.
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.partition_filters = true;
    table.optimize_filters_for_memory = true;
    // The same for the memtables: most episodes an input reads were written before the current
    // memtable began, and without a filter every such read first searched its skip list in vain.
    cf.memtable_whole_key_filtering = true;
    cf.memtable_prefix_bloom_size_ratio = 0.02;
    // Memtables as a hash table of keys, each with a skip list of its versions. The episodes are
    // only read and written by key in the hot path (each input reads its episode and writes it
    // back); in one sorted skip list every such get and put walked some twenty levels of
    // cache-cold nodes (a quarter of a replay's CPU with large memtables). Iterating sorts a copy,
    // which only the one-pass scans at open and at the end do (Db::iterator: total order).
    // The "prefix" is the whole key; SST files and their filters are as before.
    cf.prefix_extractor.reset(rocksdb::NewNoopTransform());
    cf.memtable_factory.reset(
        rocksdb::NewHashSkipListRepFactory(std::max<size_t>(cf.write_buffer_size / 1024, 1024)));
  }
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  if (f == Family::kTimers) {
    cf.table_properties_collector_factories.push_back(
        std::make_shared<TombstoneRunCollectorFactory>());
  }
  return cf;
}

const char* family_name(Family f) { return kFamilyNames[static_cast<size_t>(f)]; }

// RocksDB's info log (the `LOG` file in the state dir), written with plain write(2) and every error
// ignored. RocksDB's own file logger asserts in Debian's build (assertions on) when it appends
// after a failed append: on a full disk the process died with SIGABRT inside Db::write, from the
// line RocksDB logs about the failed write
// (WritableFileWriter::AssertFalseAndGetStatusForPrevError, 7.8). A full disk must cost log lines,
// never the process. Like RocksDB's default (no size limit, keep_log_file_num 5) the file is rolled
// at open only: LOG -> LOG.old.<micros>, five kept.
class StateDirLogger final : public rocksdb::Logger {
 public:
  explicit StateDirLogger(const std::filesystem::path& dir)
      : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL) {
    const auto log = dir / "LOG";
    std::error_code ec;
    if (std::filesystem::exists(log, ec)) {
      timeval now{};
      gettimeofday(&now, nullptr);
      const auto micros = static_cast<int64_t>(now.tv_sec) * 1000000 + now.tv_usec;
      std::filesystem::rename(log, dir / ("LOG.old." + std::to_string(micros)), ec);
      std::vector<std::filesystem::path> old;
      for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.path().filename().string().rfind("LOG.old.", 0) == 0) old.push_back(entry.path());
      }
      std::sort(old.begin(), old.end());  // same-length micros: name order is time order
      for (size_t i = 0; i + kKeepOld < old.size(); ++i) std::filesystem::remove(old[i], ec);
    }
    fd_ = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  ~StateDirLogger() override {
    if (fd_ >= 0) ::close(fd_);
  }
  StateDirLogger(const StateDirLogger&) = delete;
  StateDirLogger& operator=(const StateDirLogger&) = delete;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (fd_ < 0) return;
    std::array<char, 1024> line{};
    timeval now{};
    gettimeofday(&now, nullptr);
    tm t{};
    localtime_r(&now.tv_sec, &t);
    int n = std::snprintf(line.data(), line.size(), "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ",
                          t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                          static_cast<long>(now.tv_usec));
    if (n < 0) return;
    auto used = static_cast<size_t>(n);
    va_list copy;
    va_copy(copy, ap);
    const int body = std::vsnprintf(line.data() + used, line.size() - used, format, copy);
    va_end(copy);
    if (body < 0) return;
    // A longer line (RocksDB's periodic stats dump) is cut: the LOG is for reading, not parsing.
    used = std::min(used + static_cast<size_t>(body), line.size() - 2);
    if (line[used - 1] != '\n') line[used++] = '\n';
    // One write per line (O_APPEND: background threads' lines do not interleave); ENOSPC, EIO and
    // short writes are ignored on purpose.
    while (::write(fd_, line.data(), used) < 0 && errno == EINTR) {
    }
  }

 private:
  static constexpr size_t kKeepOld = 4;  // with the current LOG: RocksDB's keep_log_file_num 5
  int fd_ = -1;
};

// Words for the operator: a state dir RocksDB cannot write or trust, and what to do about it.
constexpr std::string_view kRestoreAdvice =
    "move the state dir aside and start again: `samordna run` restores every partition from the "
    "changelog topic (the state dir is only a copy of it), and `samordna simulate` rebuilds it "
    "from its feed";

// Every key in order, not one prefix's: the episodes' memtables are hash tables by key
// (family_options), which iterate only within one prefix unless asked for total order.
rocksdb::ReadOptions total_order(rocksdb::ReadOptions read = {}) {
  read.total_order_seek = true;
  return read;
}

}  // namespace

Result<std::unique_ptr<Db>> Db::open(const std::filesystem::path& dir, const DbOptions& options) {
  std::unique_ptr<Db> db(new Db());
  db->options_ = options;
  std::string path = dir.string();
  db->path_ = path;

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.allow_concurrent_memtable_write = false;  // the hash memtable's condition; one writer
  db_options.bytes_per_sync = 1u << 20;
  db_options.keep_log_file_num = 5;
  db_options.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(options.write_buffer_bytes);
  // A damaged write-ahead log must stop the open, not shorten the state. RocksDB's default,
  // kPointInTimeRecovery, stops replaying at the first bad record and opens with what came before:
  // a byte flipped in the middle of the log silently dropped every later write (state and timers
  // of thousands of episodes, then bogus rejections). kTolerateCorruptedTailRecords still accepts
  // what a crash leaves: an incomplete last record (kill -9 or a full disk between the write(2)
  // calls of one record) and zeroed preallocated bytes at the end; any other damage (a checksum
  // mismatch, a bad record in the middle) fails the open with Corruption. kAbsoluteConsistency
  // would refuse the torn last record too, so a kill -9 mid-write could not be reopened.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  if (!options.write_ahead_log) {
    db_options.atomic_flush = true;                  // every family's memtable to disk at once
    db_options.avoid_flush_during_shutdown = false;  // and all of them at close (the default)
  }
  if (options.in_memory) {
    db->mem_env_.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
    db_options.env = db->mem_env_.get();
    if (path.empty()) path = "/samordna";
  } else {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return fail(Errc::kIo, "cannot create state dir " + path + ": " + ec.message());
    db->info_log_ = std::make_shared<StateDirLogger>(dir);
    db_options.info_log = db->info_log_;
  }

  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t i = 0; i < kFamilyNames.size(); ++i) {
    descriptors.emplace_back(kFamilyNames[i],
                             family_options(static_cast<Family>(i), options, cache));
  }
  // RocksDB refuses to open a store without naming every family in it. Families this build does
  // not know are opened too, so that the format version check below gives the reason.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, path, &existing).ok()) {
    for (const auto& name : existing) {
      if (std::find(kFamilyNames.begin(), kFamilyNames.end(), name) == kFamilyNames.end()) {
        descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
      }
    }
  }

  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, descriptors, &db->families_, &raw);
  if (!s.ok()) return to_error(s, "open state dir " + path, path);
  db->db_.reset(raw);

  SAMORDNA_TRY(version, db->get(Family::kMeta, kFormatVersionKey));
  if (!version) {
    // Only a store that holds nothing yet is stamped: data without a version is not ours.
    for (auto* handle : db->families_) {
      std::unique_ptr<rocksdb::Iterator> it(db->db_->NewIterator(total_order(), handle));
      it->SeekToFirst();
      if (!it->status().ok()) return to_error(it->status(), "read state dir " + path);
      if (it->Valid()) {
        return fail(Errc::kCorruption, "state dir " + path + " holds data but no format version (" +
                                           handle->GetName() +
                                           " is not empty): not a samordna store");
      }
    }
    std::string value;
    put_u32(value, kFormatVersion);
    rocksdb::WriteOptions sync;
    sync.sync = true;
    s = db->db_->Put(sync, db->family(Family::kMeta), kFormatVersionKey, value);
    if (!s.ok()) return to_error(s, "stamp format version in state dir " + path, path);
  } else {
    if (version->size() != 4) {
      return fail(Errc::kCorruption, "state dir " + path + ": format version record has " +
                                         std::to_string(version->size()) + " bytes, expected 4");
    }
    uint32_t found = get_u32(*version);
    if (found != kFormatVersion && found != kVersionWithTimerIndex) {
      return fail(Errc::kCorruption, "state dir " + path + " has unknown format version " +
                                         std::to_string(found) + "; this build reads version " +
                                         std::to_string(kFormatVersion) + " and migrates version " +
                                         std::to_string(kVersionWithTimerIndex));
    }
    // Refused before anything is migrated: a store is changed only when it will be opened.
    for (size_t i = kFamilyNames.size(); i < db->families_.size(); ++i) {
      const std::string& name = db->families_[i]->GetName();
      if (found == kVersionWithTimerIndex && name == kTimerIndexFamily) continue;
      return fail(Errc::kCorruption,
                  "state dir " + path + " has an unknown column family '" + name + "'");
    }
    if (found == kVersionWithTimerIndex) {
      SAMORDNA_TRYV(db->drop_timer_index());
    }
  }
  if (db->families_.size() >
      kFamilyNames.size()) {  // a store stamped just now, with a family extra
    return fail(Errc::kCorruption, "state dir " + path + " has an unknown column family '" +
                                       db->families_[kFamilyNames.size()]->GetName() + "'");
  }
  return db;
}

// Version 1 -> 2: the timer index goes, the version is stamped 2 (synced). Dropping a family is
// one MANIFEST record, so a crash leaves either version 1 with the family (migrated again at the
// next open) or the family gone under version 1, which the next open stamps (dropping nothing).
Result<void> Db::drop_timer_index() {
  for (size_t i = kFamilyNames.size(); i < families_.size(); ++i) {
    auto* handle = families_[i];
    if (handle->GetName() != kTimerIndexFamily) continue;
    rocksdb::Status s = db_->DropColumnFamily(handle);
    if (!s.ok()) return to_error(s, "migrate state dir " + path_ + " to format version 2", path_);
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    families_.erase(families_.begin() + static_cast<std::ptrdiff_t>(i));
    break;
  }
  std::string value;
  put_u32(value, kFormatVersion);
  rocksdb::WriteOptions sync;
  sync.sync = true;
  rocksdb::Status s = db_->Put(sync, family(Family::kMeta), kFormatVersionKey, value);
  if (!s.ok()) return to_error(s, "stamp format version 2 in state dir " + path_, path_);
  return ok();
}

Db::~Db() {
  if (!db_) return;
  for (auto* handle : families_) db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  // Nothing to report to. With the write-ahead log, nothing to lose: every write is in it; without
  // it, the owner called flush() and reported its outcome (a failure here loses nothing more).
  db_->Close().PermitUncheckedError();
}

Result<void> Db::flush() {
  rocksdb::FlushOptions wait;
  wait.wait = true;
  rocksdb::Status s = db_->Flush(wait, families_);
  if (!s.ok()) return to_error(s, "flush the state dir " + path_, path_);
  return ok();
}

rocksdb::ColumnFamilyHandle* Db::family(Family f) const {
  auto i = static_cast<size_t>(f);
  SAMORDNA_CHECK(i < kFamilyNames.size() && i < families_.size(), "unknown column family");
  return families_[i];
}

Result<std::optional<std::string>> Db::get(Family f, std::string_view key, Txn* txn) const {
  rocksdb::PinnableSlice value;
  const rocksdb::Slice k(key.data(), key.size());
  rocksdb::Status s = txn != nullptr ? txn->batch().GetFromBatchAndDB(
                                           db_.get(), rocksdb::ReadOptions(), family(f), k, &value)
                                     : db_->Get(rocksdb::ReadOptions(), family(f), k, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) {
    return to_error(s, std::string("read from ") + family_name(f) + " in state dir " + path_,
                    path_);
  }
  return std::optional<std::string>(value.ToString());
}

std::unique_ptr<rocksdb::Iterator> Db::iterator(Family f, const rocksdb::ReadOptions& read,
                                                Txn* txn) const {
  const rocksdb::ReadOptions total = total_order(read);
  std::unique_ptr<rocksdb::Iterator> base(db_->NewIterator(total, family(f)));
  if (txn == nullptr) return base;
  return std::unique_ptr<rocksdb::Iterator>(
      txn->batch().NewIteratorWithBase(family(f), base.release(), &total));
}

Result<void> Db::write(rocksdb::WriteBatch& batch) {
  rocksdb::WriteOptions options;
  options.sync = options_.sync_writes && options_.write_ahead_log;
  options.disableWAL = !options_.write_ahead_log;
  rocksdb::Status s = db_->Write(options, &batch);
  if (!s.ok()) return to_error(s, "write to state dir " + path_, path_);
  return ok();
}

Error to_error(const rocksdb::Status& status, std::string_view what, std::string_view dir) {
  std::string detail = status.ToString();
  std::string message = std::string(what) + ": ";
  std::string advice;
  Errc code = Errc::kIo;
  if (status.IsIOError() && (detail.find("While lock file") != std::string::npos ||
                             detail.find("lock hold by current process") != std::string::npos)) {
    // RocksDB's LOCK file: another process (or another Db in this one) has the directory open.
    code = Errc::kUnavailable;
    message += "the state dir is in use by another process (its LOCK file is held); ";
  } else if (status.IsNoSpace() || detail.find("No space left on device") != std::string::npos) {
    // A background flush that failed for space comes back on the next write as its own status.
    message +=
        "the disk is full; free space on it and start again (what was written before stays intact: "
        "`samordna run` writes its state only after the Kafka transaction committed, and restores "
        "anything newer from the changelog topic); ";
  } else if (status.IsNotFound()) {
    code = Errc::kNotFound;
  } else if (status.IsCorruption()) {
    code = Errc::kCorruption;
    // On open this is most often the write-ahead log (a record that fails its checksum before the
    // end of the log), or the MANIFEST.
    if (!dir.empty()) {
      advice = ": the state dir " + std::string(dir) + " is damaged and was not used; " +
               std::string(kRestoreAdvice);
    }
  } else if (status.IsInvalidArgument() || status.IsNotSupported()) {
    code = Errc::kInvalidArgument;
  } else if (status.IsBusy() || status.IsTimedOut() || status.IsTryAgain()) {
    code = Errc::kUnavailable;
  }
  return Error{code, message + detail + advice};
}

void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

void put_i64_ordered(std::string& out, int64_t v) {
  uint64_t u = static_cast<uint64_t>(v) ^ (uint64_t{1} << 63);
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(u >> shift));
}

uint32_t get_u32(std::string_view in) {
  SAMORDNA_CHECK(in.size() >= 4, "get_u32 needs 4 bytes");
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

int64_t get_i64_ordered(std::string_view in) {
  SAMORDNA_CHECK(in.size() >= 8, "get_i64_ordered needs 8 bytes");
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<uint8_t>(in[i]);
  return static_cast<int64_t>(u ^ (uint64_t{1} << 63));
}

}  // namespace samordna::store
