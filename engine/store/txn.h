#pragma once

// The changes of one or more inputs that are not written yet. Reads given a Txn see its own writes
// on top of the store (read-your-writes), so a Kafka transaction can span many inputs while RocksDB
// is written only once that transaction has committed: state can then never run ahead of the
// committed input offsets. The simulator writes one Txn per unit of work.
//
// Two ways in. batch(): indexed by RocksDB's WriteBatchWithIndex, for families that are iterated
// through the transaction (the timers, read in fire-time order). put_keyed() / erase_keyed(): for
// a family only ever read by key (the timer index), into the same batch unindexed and into a hash
// map that reads consult first. A skip-list insert into the batch's index cost more than the
// write itself; a hash insert costs a fraction. Either way everything is in one WriteBatch and is
// written in one atomic write.

#include <rocksdb/utilities/write_batch_with_index.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

namespace samordna::store {

class Txn {
 public:
  Txn() : batch_(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true) {}
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  rocksdb::WriteBatchWithIndex& batch() { return batch_; }
  uint32_t count() { return batch_.GetWriteBatch()->Count(); }
  bool empty() { return count() == 0; }
  void clear() {
    batch_.Clear();
    keyed_.clear();
    keyed_families_.clear();
  }

  // Writes to a family read only by key. Returns false when the batch refuses the write.
  bool put_keyed(rocksdb::ColumnFamilyHandle* family, std::string_view key,
                 std::string_view value) {
    if (!batch_.GetWriteBatch()->Put(family, to_slice(key), to_slice(value)).ok()) return false;
    keyed_families_.insert(family->GetID());
    keyed_.insert_or_assign(keyed_key(family->GetID(), key), std::string(value));
    return true;
  }
  bool erase_keyed(rocksdb::ColumnFamilyHandle* family, std::string_view key) {
    if (!batch_.GetWriteBatch()->Delete(family, to_slice(key)).ok()) return false;
    keyed_families_.insert(family->GetID());
    keyed_.insert_or_assign(keyed_key(family->GetID(), key), std::nullopt);
    return true;
  }
  // Whether the family was written with put_keyed() / erase_keyed() in this transaction; then the
  // batch's index does not know all of its writes, and reads use keyed() and the store.
  bool keyed_family(uint32_t family_id) const { return keyed_families_.contains(family_id); }
  // What this transaction wrote for the key: null when nothing, else the value (nullopt: erased).
  const std::optional<std::string>* keyed(uint32_t family_id, std::string_view key) const {
    auto it = keyed_.find(keyed_key(family_id, key));
    return it == keyed_.end() ? nullptr : &it->second;
  }

 private:
  static rocksdb::Slice to_slice(std::string_view s) { return {s.data(), s.size()}; }
  static std::string keyed_key(uint32_t family_id, std::string_view key) {
    std::string k(reinterpret_cast<const char*>(&family_id), sizeof family_id);
    k.append(key);
    return k;
  }

  rocksdb::WriteBatchWithIndex batch_;
  std::unordered_map<std::string, std::optional<std::string>> keyed_;
  std::set<uint32_t> keyed_families_;
};

}  // namespace samordna::store
