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
  if (memory_) {
    index_.clear();
    gone_.clear();
    unstored_ = 0;
    std::unique_ptr<rocksdb::Iterator> all(
        db_.raw().NewIterator(rocksdb::ReadOptions(), db_.family(Family::kTimers)));
    for (all->SeekToFirst(); all->Valid(); all->Next()) {
      SAMORDNA_TRY(timer, decode_timer(all->key().ToStringView()));
      head_.try_emplace(timer.key.partition, timer.fire_at);  // keys sort by partition first
      index_.emplace_hint(index_.end(), all->key().ToString(), true);
    }
    if (!all->status().ok()) return store::to_error(all->status(), "load timers");
    return ok();
  }
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
  if (pending.at && memory_) {
    SAMORDNA_CHECK(index_.contains(timer_key(key, *pending.at)),
                   "the caller's pending timer is not in the store (held in memory): episode "
                   "state and timers out of step");
  } else if (pending.at) {
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
  if (pending.at == fire_at) return ok();  // already there; a second Put would break SingleDelete
  if (memory_) {
    if (pending.at) forget(timer_key(key, *pending.at));
    remember(timer_key(key, fire_at));
  } else {
    auto& batch = txn.batch();
    auto* timers = db_.family(Family::kTimers);
    if (pending.at) {
      SAMORDNA_CHECK(batch.SingleDelete(timers, timer_key(key, *pending.at)).ok(), "batch refused");
    }
    SAMORDNA_CHECK(batch.Put(timers, timer_key(key, fire_at), rocksdb::Slice()).ok(),
                   "batch refused");
  }
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
  if (!pending.at) return ok();
  if (memory_) {
    forget(timer_key(key, *pending.at));
    return ok();
  }
  SAMORDNA_CHECK(
      txn.batch().SingleDelete(db_.family(Family::kTimers), timer_key(key, *pending.at)).ok(),
      "batch refused");
  return ok();
}

void TimerStore::forget(std::string key) {
  auto it = index_.find(key);
  SAMORDNA_CHECK(it != index_.end(), "a cancelled or moved timer is pending");
  if (it->second) {
    gone_.insert(std::move(key));
  } else {
    --unstored_;
  }
  index_.erase(it);
}

void TimerStore::remember(std::string key) {
  // Scheduled again at the time the store has it: the store needs neither a delete nor a put.
  const bool stored = gone_.erase(key) > 0;
  const bool inserted = index_.emplace(std::move(key), stored).second;
  SAMORDNA_CHECK(inserted, "a timer key is pending once");
  if (!stored) ++unstored_;
}

void TimerStore::spill(rocksdb::WriteBatch& batch) {
  auto* timers = db_.family(Family::kTimers);
  for (const auto& key : gone_) {
    SAMORDNA_CHECK(batch.SingleDelete(timers, key).ok(), "batch refused");
  }
  gone_.clear();
  if (unstored_ == 0) return;
  for (auto& [key, stored] : index_) {
    if (stored) continue;
    SAMORDNA_CHECK(batch.Put(timers, key, rocksdb::Slice()).ok(), "batch refused");
    stored = true;
  }
  unstored_ = 0;
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
  std::optional<Instant> next;  // the earliest timer after now, if the pass reached it
  // Takes the next key in order; false once `limit` is reached or the key is after now.
  auto take = [&](std::string_view key) -> Result<bool> {
    SAMORDNA_TRY(timer, decode_timer(key));
    if (timer.fire_at > now) {
      next = timer.fire_at;
      return false;
    }
    out.push_back(std::move(timer));
    return out.size() < limit;
  };
  if (memory_) {
    for (auto it = index_.lower_bound(lower); it != index_.end(); ++it) {
      if (!last && it->first >= end) break;
      SAMORDNA_TRY(more, take(it->first));
      if (!more) break;
    }
  } else {
    rocksdb::Slice lower_bound(lower);
    rocksdb::Slice end_bound(end);
    rocksdb::ReadOptions read;
    read.iterate_lower_bound = &lower_bound;
    if (!last) read.iterate_upper_bound = &end_bound;
    std::unique_ptr<rocksdb::Iterator> it = db_.iterator(Family::kTimers, read, txn);
    for (it->Seek(lower_bound); it->Valid(); it->Next()) {
      // Through a transaction, keys that live only in its batch ignore iterate_upper_bound
      // (RocksDB 7.8's BaseDeltaIterator bounds the base iterator only): checked here too.
      if (!last && it->key().compare(end_bound) >= 0) break;
      SAMORDNA_TRY(more, take(it->key().ToStringView()));
      if (!more) break;
    }
    if (!it->status().ok()) return store::to_error(it->status(), "read due timers");
  }

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
  SAMORDNA_CHECK(!memory_, "a replay's timer store keeps its partitions");
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
