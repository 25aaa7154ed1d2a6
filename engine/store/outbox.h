#pragma once

// The durable outbox of `samordna deliver`: one entry per (notification, endpoint) not yet
// delivered, the dead-lettered ones (kept for replay), the input offsets consumed, and the
// endpoints a 410 disabled. Its own RocksDB database in deliver's --data-dir, apart from `run`'s
// state: deliver is another process with another lifetime. Key layouts: engine/README.md, "The
// delivery outbox".
//
// Why here and not in connectors/deliver: connectors name no rocksdb:: (tests/lint/
// check_includes.sh). connectors/deliver defines the port it needs (outbox.h there) in terms of
// samordna.v1.OutboxEntry; engine/app adapts this class to it.
//
// The offsets consumed are written in the same WriteBatch as the entries they produced, so a crash
// re-reads exactly what was not yet stored, and keys are deterministic, so a re-read writes the
// same entries again, never a second copy.
//
// Thread-safe (RocksDB is): the consume thread adds, the delivery workers update and remove.

#include <rocksdb/db.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/result.h"
#include "samordna/v1/delivery.pb.h"

namespace samordna::store {

// (topic, partition) -> the next offset to read.
using Offsets = std::map<std::pair<std::string, int32_t>, int64_t>;

class DeliveryOutbox {
 public:
  // Opens or creates the outbox in `dir`; refuses another format version, names the dir.
  static Result<std::unique_ptr<DeliveryOutbox>> open(const std::filesystem::path& dir);
  ~DeliveryOutbox();
  DeliveryOutbox(const DeliveryOutbox&) = delete;
  DeliveryOutbox& operator=(const DeliveryOutbox&) = delete;

  // Stores `entries` (pending) and `offsets` in one synced write.
  Result<void> add(const std::vector<v1::OutboxEntry>& entries, const Offsets& offsets);
  Result<Offsets> offsets() const;
  // Every pending entry, in key order: by endpoint, episode, partition, offset.
  Result<std::vector<v1::OutboxEntry>> pending() const;
  // Overwrites a pending entry (its attempts and schedule).
  Result<void> update(const v1::OutboxEntry& entry);
  // Delivered: the pending entry goes. Not synced: a delete lost in a crash is one more delivery
  // with the same webhook-id, which the receiver deduplicates.
  Result<void> remove(const v1::OutboxEntry& entry);
  // Dead-lettered: pending -> dead (entry.dead_code says why), in one write.
  Result<void> bury(const v1::OutboxEntry& entry);
  // Dead -> pending again, attempts reset, for the dead entries of `notification_id` (empty: all),
  // to `endpoint` only when given; `offsets` (the replay request's) go in the same write. Returns
  // the entries revived.
  Result<std::vector<v1::OutboxEntry>> revive(const std::string& notification_id,
                                              const std::string& endpoint, const Offsets& offsets);
  Result<std::vector<v1::OutboxEntry>> dead() const;

  Result<std::set<std::string>> disabled() const;
  Result<void> set_disabled(const std::string& endpoint, bool disabled, const Offsets& offsets);

 private:
  DeliveryOutbox() = default;
  Result<std::vector<v1::OutboxEntry>> scan(rocksdb::ColumnFamilyHandle* family) const;
  Result<void> write(rocksdb::WriteBatch& batch, bool sync);

  std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> families_;  // meta (default), pending, dead
};

// The keys, public for the tests and engine/README.md.
std::string outbox_pending_key(const v1::OutboxEntry& entry);
std::string outbox_dead_key(const v1::OutboxEntry& entry);

}  // namespace samordna::store
