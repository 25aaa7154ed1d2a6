#pragma once

// Episode state records, keyed by partition and episode id.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "engine/core/result.h"
#include "engine/store/db.h"
#include "samordna/v1/storage.pb.h"

namespace samordna::store {

class EpisodeStore {
 public:
  explicit EpisodeStore(Db& db) : db_(db) {}

  Result<std::optional<storage::v1::EpisodeState>> get(PartitionId partition,
                                                       std::string_view episode_id,
                                                       Txn* txn = nullptr) const;
  // The stored record, unparsed: for a reader that needs a few of its fields only.
  Result<std::optional<std::string>> get_record(PartitionId partition,
                                                std::string_view episode_id) const;
  void put(Txn& txn, PartitionId partition, const storage::v1::EpisodeState& state) const;
  void erase(Txn& txn, PartitionId partition, std::string_view episode_id) const;
  // Into a plain batch, a state already serialized (its storage record, as the changelog carries
  // it): not indexed, so not read back through any transaction. For a writer that keeps its own
  // read-your-writes (the engine's staged states) and puts its episodes only in the moment before
  // it writes; indexing them there cost a skip-list insert each.
  void put_record(rocksdb::WriteBatch& batch, PartitionId partition, std::string_view episode_id,
                  std::string_view record) const;
  void erase(rocksdb::WriteBatch& batch, PartitionId partition, std::string_view episode_id) const;

 private:
  template <class Batch>
  void erase_from(Batch& batch, PartitionId partition, std::string_view episode_id) const;

  Db& db_;
};

// The rule sets that episodes in flight (phase OPEN or DISCHARGED: not settled, not cancelled)
// were started under, in every partition: (rule_set_id, rule_set_digest) -> how many episodes.
// Reads every episode record once (a start-up check, not for the hot path).
Result<std::map<std::pair<std::string, std::string>, size_t>> rule_sets_in_flight(const Db& db);

}  // namespace samordna::store
