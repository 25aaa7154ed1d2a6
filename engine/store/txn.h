#pragma once

// The changes of one or more inputs that are not written yet. Reads given a Txn see its own writes
// on top of the store (read-your-writes), so a Kafka transaction can span many inputs while RocksDB
// is written only once that transaction has committed: state can then never run ahead of the
// committed input offsets. The simulator writes one Txn per unit of work.
//
// Only what is read back through the transaction goes through the batch's index (the timers, read
// in fire-time order by TimerStore::due): the engine puts episode records into the batch unindexed
// (batch().GetWriteBatch()) at the write, since a skip-list insert into the index cost more than
// RocksDB's own write (issue 14). Either way everything is in one WriteBatch, written atomically.

#include <rocksdb/utilities/write_batch_with_index.h>

#include <cstdint>

namespace samordna::store {

class Txn {
 public:
  Txn() : batch_(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true) {}
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  rocksdb::WriteBatchWithIndex& batch() { return batch_; }
  uint32_t count() { return batch_.GetWriteBatch()->Count(); }
  bool empty() { return count() == 0; }
  void clear() { batch_.Clear(); }

 private:
  rocksdb::WriteBatchWithIndex batch_;
};

}  // namespace samordna::store
