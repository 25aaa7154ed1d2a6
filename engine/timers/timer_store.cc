#include "engine/timers/timer_store.h"

#include <limits>
#include <memory>

#include "engine/core/check.h"

namespace samordna::timers {
namespace {

using store::Family;

constexpr size_t kTimerPrefixBytes = 4 + 8;  // partition, fire_at

std::string partition_prefix(PartitionId partition) {
  std::string key;
  store::put_u32(key, partition);
  return key;
}

// Timers family: [partition u32][fire_at i64 ordered][kind u8][episode_id] -> "".
std::string timer_prefix(PartitionId partition, Instant fire_at) {
  std::string key;
  key.reserve(kTimerPrefixBytes + 1 + 32);
  store::put_u32(key, partition);
  store::put_i64_ordered(key, to_unix(fire_at));
  return key;
}

std::string timer_key(const TimerKey& key, Instant fire_at) {
  std::string out = timer_prefix(key.partition, fire_at);
  out.push_back(static_cast<char>(key.kind));
  out.append(key.episode_id);
  return out;
}

Result<DueTimer> decode_timer(std::string_view key) {
  if (key.size() < kTimerPrefixBytes + 1) {
    return fail(Errc::kCorruption, "timer key of " + std::to_string(key.size()) + " bytes");
  }
  DueTimer timer;
  timer.key.partition = store::get_u32(key);
  timer.fire_at = from_unix(store::get_i64_ordered(key.substr(4)));
  timer.key.kind = static_cast<uint8_t>(key[kTimerPrefixBytes]);
  timer.key.episode_id = std::string(key.substr(kTimerPrefixBytes + 1));
  return timer;
}

}  // namespace

TimerStore::TimerStore(store::Db& db) : db_(db) {}

Result<void> TimerStore::load() {
  head_.clear();
  resume_after_.clear();
  // One seek per partition present: the first live key after a partition's prefix is its earliest
  // timer, and the seek past it lands on the next partition.
  std::unique_ptr<rocksdb::Iterator> it(
      db_.raw().NewIterator(rocksdb::ReadOptions(), db_.family(Family::kTimers)));
  for (it->SeekToFirst(); it->Valid();) {
    SAMORDNA_TRY(timer, decode_timer(it->key().ToStringView()));
    head_[timer.key.partition] = timer.fire_at;
    if (timer.key.partition == std::numeric_limits<PartitionId>::max()) break;
    it->Seek(partition_prefix(timer.key.partition + 1));
  }
  if (!it->status().ok()) return store::to_error(it->status(), "load timer heads");
  return ok();
}

Result<void> TimerStore::verify(const TimerKey& key, store::Txn& txn, Pending pending) const {
#ifndef NDEBUG
  if (pending.at) {
    SAMORDNA_TRY(found, db_.get(Family::kTimers, timer_key(key, *pending.at), &txn));
    SAMORDNA_CHECK(found.has_value(),
                   "the caller's pending timer is not in the store (episode state and timers out "
                   "of step)");
  }
#else
  (void)key, (void)txn, (void)pending;
#endif
  return ok();
}

Result<void> TimerStore::schedule(store::Txn& txn, const TimerKey& key, Instant fire_at,
                                  Pending pending) {
  SAMORDNA_TRYV(verify(key, txn, pending));
  auto& batch = txn.batch();
  if (pending.at == fire_at) return ok();  // already there; a second Put would break SingleDelete
  auto* timers = db_.family(Family::kTimers);
  if (pending.at) {
    SAMORDNA_CHECK(batch.SingleDelete(timers, timer_key(key, *pending.at)).ok(), "batch refused");
  }
  SAMORDNA_CHECK(batch.Put(timers, timer_key(key, fire_at), rocksdb::Slice()).ok(),
                 "batch refused");
  auto [head, inserted] = head_.try_emplace(key.partition, fire_at);
  if (!inserted && fire_at <= head->second) {
    head->second = fire_at;
    // The new timer may sort before the resume point at the same second.
    resume_after_.erase(key.partition);
  }
  return ok();
}

Result<void> TimerStore::cancel(store::Txn& txn, const TimerKey& key, Pending pending) {
  SAMORDNA_TRYV(verify(key, txn, pending));
  auto& batch = txn.batch();
  if (!pending.at) return ok();
  SAMORDNA_CHECK(batch.SingleDelete(db_.family(Family::kTimers), timer_key(key, *pending.at)).ok(),
                 "batch refused");
  return ok();
}

std::optional<Instant> TimerStore::next_due(PartitionId partition) const {
  auto head = head_.find(partition);
  if (head == head_.end()) return std::nullopt;
  return head->second;
}

Result<std::vector<DueTimer>> TimerStore::due(PartitionId partition, Instant now, size_t limit,
                                              store::Txn* txn) {
  std::vector<DueTimer> out;
  auto head = head_.find(partition);
  if (head == head_.end() || head->second > now || limit == 0) return out;
  // From the head (or just after the last timer handed out at its second): never below what is
  // known handed out, so the tombstones of fired timers are not stepped over twice.
  std::string lower = timer_prefix(partition, head->second);
  if (auto resume = resume_after_.find(partition); resume != resume_after_.end()) {
    lower = resume->second;
    lower.push_back('\0');  // the smallest key after it
  }
  // The iterator runs to the end of the partition, one key past now: the first timer after now is
  // the new head, exact, so the next pass runs when a timer is due, not merely when time moves.
  const bool last = partition == std::numeric_limits<PartitionId>::max();
  std::string end = last ? std::string() : partition_prefix(partition + 1);
  rocksdb::Slice lower_bound(lower);
  rocksdb::Slice end_bound(end);
  rocksdb::ReadOptions read;
  read.iterate_lower_bound = &lower_bound;
  if (!last) read.iterate_upper_bound = &end_bound;
  std::unique_ptr<rocksdb::Iterator> it = db_.iterator(Family::kTimers, read, txn);
  std::optional<Instant> next;  // the earliest timer after now, if the pass reached it
  for (it->Seek(lower_bound); it->Valid() && out.size() < limit; it->Next()) {
    // Through a transaction, keys that live only in its batch ignore iterate_upper_bound (RocksDB
    // 7.8's BaseDeltaIterator bounds the base iterator only), so the bounds are checked here too.
    if (!last && it->key().compare(end_bound) >= 0) break;
    SAMORDNA_TRY(timer, decode_timer(it->key().ToStringView()));
    if (timer.fire_at > now) {
      next = timer.fire_at;
      break;
    }
    out.push_back(std::move(timer));
  }
  if (!it->status().ok()) return store::to_error(it->status(), "read due timers");

  if (out.size() < limit) {
    // Everything up to now is handed out: the head is the next timer, or there is none.
    resume_after_.erase(partition);
    if (next) {
      head->second = *next;
    } else {
      head_.erase(head);
    }
  } else {
    head->second = out.back().fire_at;
    resume_after_[partition] = timer_key(out.back().key, out.back().fire_at);
  }
  return out;
}

Result<void> TimerStore::drop_partition(PartitionId partition) {
  rocksdb::WriteBatch batch;
  auto* timers = db_.family(Family::kTimers);
  std::string begin = partition_prefix(partition);
  if (partition < std::numeric_limits<PartitionId>::max()) {
    std::string end = partition_prefix(partition + 1);
    SAMORDNA_CHECK(batch.DeleteRange(timers, begin, end).ok(), "batch refused");
  } else {
    // The last partition has no successor prefix to end a range with: delete key by key.
    rocksdb::Slice lower_bound(begin);
    rocksdb::ReadOptions read;
    read.iterate_lower_bound = &lower_bound;
    std::unique_ptr<rocksdb::Iterator> it(db_.raw().NewIterator(read, timers));
    for (it->Seek(lower_bound); it->Valid(); it->Next()) {
      SAMORDNA_CHECK(batch.SingleDelete(timers, it->key()).ok(), "batch refused");
    }
    if (!it->status().ok()) return store::to_error(it->status(), "read timers to drop");
  }
  SAMORDNA_TRY(db_.write(batch));
  head_.erase(partition);
  resume_after_.erase(partition);
  return ok();
}

}  // namespace samordna::timers
