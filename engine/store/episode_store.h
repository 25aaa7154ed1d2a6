#pragma once

// Episode state records, keyed by partition and episode id.

#include <optional>
#include <string_view>

#include "engine/core/result.h"
#include "engine/store/db.h"
#include "samordna/v1/storage.pb.h"

namespace samordna::store {

class EpisodeStore {
 public:
  explicit EpisodeStore(Db& db) : db_(db) {}

  Result<std::optional<v1::EpisodeState>> get(PartitionId partition, std::string_view episode_id,
                                              Txn* txn = nullptr) const;
  void put(Txn& txn, PartitionId partition, const v1::EpisodeState& state) const;
  void erase(Txn& txn, PartitionId partition, std::string_view episode_id) const;

 private:
  Db& db_;
};

}  // namespace samordna::store
