#include "engine/store/episode_store.h"

#include <string>

#include "engine/core/check.h"

namespace samordna::store {
namespace {

// [partition u32 BE][episode_id]: a partition's episodes are one contiguous range.
std::string episode_key(PartitionId partition, std::string_view episode_id) {
  std::string key;
  key.reserve(4 + episode_id.size());
  put_u32(key, partition);
  key.append(episode_id);
  return key;
}

}  // namespace

Result<std::optional<storage::v1::EpisodeState>> EpisodeStore::get(PartitionId partition,
                                                                   std::string_view episode_id,
                                                                   Txn* txn) const {
  SAMORDNA_TRY(value, db_.get(Family::kEpisodes, episode_key(partition, episode_id), txn));
  if (!value) return std::optional<storage::v1::EpisodeState>();
  storage::v1::EpisodeState state;
  if (!state.ParseFromString(*value)) {
    return fail(Errc::kCorruption, "episode " + std::string(episode_id) + " in partition " +
                                       std::to_string(partition) + ": record cannot be parsed");
  }
  return std::optional<storage::v1::EpisodeState>(std::move(state));
}

Result<std::optional<std::string>> EpisodeStore::get_record(PartitionId partition,
                                                            std::string_view episode_id) const {
  return db_.get(Family::kEpisodes, episode_key(partition, episode_id));
}

void EpisodeStore::put(Txn& txn, PartitionId partition,
                       const storage::v1::EpisodeState& state) const {
  SAMORDNA_CHECK(!state.episode_id().empty(), "an episode state needs its episode_id");
  std::string value;
  SAMORDNA_CHECK(state.SerializeToString(&value), "episode state does not serialize");
  SAMORDNA_CHECK(
      txn.batch()
          .Put(db_.family(Family::kEpisodes), episode_key(partition, state.episode_id()), value)
          .ok(),
      "write batch refused a put");
}

void EpisodeStore::erase(Txn& txn, PartitionId partition, std::string_view episode_id) const {
  erase_from(txn.batch(), partition, episode_id);
}

void EpisodeStore::erase(rocksdb::WriteBatch& batch, PartitionId partition,
                         std::string_view episode_id) const {
  erase_from(batch, partition, episode_id);
}

void EpisodeStore::put_record(rocksdb::WriteBatch& batch, PartitionId partition,
                              std::string_view episode_id, std::string_view record) const {
  SAMORDNA_CHECK(!episode_id.empty(), "an episode state needs its episode_id");
  SAMORDNA_CHECK(batch
                     .Put(db_.family(Family::kEpisodes), episode_key(partition, episode_id),
                          rocksdb::Slice(record.data(), record.size()))
                     .ok(),
                 "write batch refused a put");
}

template <class Batch>
void EpisodeStore::erase_from(Batch& batch, PartitionId partition,
                              std::string_view episode_id) const {
  SAMORDNA_CHECK(
      batch.Delete(db_.family(Family::kEpisodes), episode_key(partition, episode_id)).ok(),
      "write batch refused a delete");
}

Result<std::map<std::pair<std::string, std::string>, size_t>> rule_sets_in_flight(const Db& db) {
  std::map<std::pair<std::string, std::string>, size_t> in_use;
  rocksdb::ReadOptions read;
  read.fill_cache = false;  // one pass over everything: do not evict the working set
  auto it = db.iterator(Family::kEpisodes, read);
  storage::v1::EpisodeState state;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!state.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return fail(Errc::kCorruption, "an episode record cannot be parsed (key of " +
                                         std::to_string(it->key().size()) + " bytes)");
    }
    if (state.phase() != storage::v1::EpisodeState::OPEN &&
        state.phase() != storage::v1::EpisodeState::DISCHARGED) {
      continue;
    }
    ++in_use[{state.rule_set_id(), state.rule_set_digest()}];
  }
  if (!it->status().ok()) return to_error(it->status(), "read the episodes");
  return in_use;
}

}  // namespace samordna::store
