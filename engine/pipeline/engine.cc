#include "engine/pipeline/engine.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "engine/core/check.h"
#include "engine/core/wire.h"

namespace samordna::pipeline {

void Engine::add_timer(TimerSet& timers, const storage::v1::TimerRecord& t) {
  const bool inserted = timers.emplace(pack_timer_kind(t.kind(), t.deadline()), t.fire_at()).second;
  SAMORDNA_CHECK(inserted, "an episode holds at most one timer per kind and deadline");
}

Engine::TimerSet Engine::timers_of(const storage::v1::EpisodeState* state) {
  TimerSet out;
  if (state == nullptr) return out;
  for (const auto& t : state->timers()) add_timer(out, t);
  return out;
}

Engine::Held Engine::held_by(const storage::v1::EpisodeState* state) {
  Held held;
  held.timers = timers_of(state);
  if (state != nullptr && state->has_retire_at()) held.retire_at = state->retire_at();
  return held;
}

Result<Engine::Held> Engine::held_by_record(std::string_view record) {
  using storage::v1::EpisodeState;
  constexpr uint64_t kTimers = uint64_t{EpisodeState::kTimersFieldNumber} << 3 | wire::kDelimited;
  constexpr uint64_t kRetireAt = uint64_t{EpisodeState::kRetireAtFieldNumber} << 3 | wire::kVarint;
  auto unreadable = [] { return fail(Errc::kCorruption, "its record's timers cannot be read"); };
  Held held;
  wire::Reader r{record};
  storage::v1::TimerRecord timer;
  while (!r.done()) {
    uint64_t tag = 0;
    if (!r.varint(tag)) return unreadable();
    if (tag == kTimers) {
      std::string_view bytes;
      if (!r.delimited(bytes) ||
          !timer.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
        return unreadable();
      add_timer(held.timers, timer);
    } else if (tag == kRetireAt) {
      uint64_t v = 0;
      if (!r.varint(v)) return unreadable();
      held.retire_at = static_cast<int64_t>(v);
    } else if (!r.skip(tag)) {
      return unreadable();
    }
  }
  return held;
}

timers::TimerStore::Pending Engine::Held::retention() const {
  return {retire_at ? std::optional<Instant>(from_unix(*retire_at)) : std::nullopt};
}

uint8_t pack_timer_kind(storage::v1::TimerKind kind, v1::DeadlineKind deadline) {
  SAMORDNA_CHECK(kind >= 0 && kind < 16 && deadline >= 0 && deadline < 16,
                 "timer kinds fit a nibble");
  return static_cast<uint8_t>((static_cast<unsigned>(kind) << 4) | static_cast<unsigned>(deadline));
}

state::TimerFired unpack_timer(uint8_t packed, Instant fire_at) {
  state::TimerFired t;
  t.kind = static_cast<storage::v1::TimerKind>(packed >> 4);
  t.deadline = static_cast<v1::DeadlineKind>(packed & 0x0f);
  t.fire_at = fire_at;
  return t;
}

Engine::Engine(store::Db& db, const rules::RuleBook& rules, std::chrono::seconds retention)
    : db_(db),
      episodes_(db),
      timers_(db),
      rules_(rules),
      size_bound_(state::longest_state_string(rules)),
      retention_(retention) {}

void Engine::write_behind(size_t max_episodes, bool list_changes) {
  SAMORDNA_CHECK(max_episodes > 0, "write-behind holds at least one episode");
  write_behind_ = max_episodes;
  list_changes_ = list_changes;
  timers_.keep_in_memory();
}

Result<void> Engine::open() {
  // Changed held states and timers are the only copy of what the units since the last spill did.
  SAMORDNA_CHECK(std::none_of(cache_.begin(), cache_.end(),
                              [](const auto& held) { return held.second.dirty; }) &&
                     !timers_.changed(),
                 "a write-behind engine's units of work cannot be dropped");
  drop_probe();
  forget_held();
  // Write-behind: the timers in memory are the store's (every change since they were loaded went
  // through this engine and a spill), so opening again (the service does after restoring
  // partitions) need not read them all once more (a million: open took 0.76 s, 0.42 s before).
  if (write_behind_ > 0 && timers_loaded_) return ok();
  return load_timers();
}

Result<void> Engine::drop_held() {
  forget_held();
  return load_timers();
}

void Engine::forget_held() {
  cache_.clear();
  peeked_ = nullptr;
  unit_.clear();
  staged_.clear();
  records_.clear();
  settled_.clear();
  // A probe may hold a lent state: it goes with the rest.
  probe_.reset();
  spill_ = false;
}

Result<void> Engine::load_timers() {
  timers_loaded_ = false;
  SAMORDNA_TRYV(timers_.load());
  timers_loaded_ = true;
  return ok();
}

std::vector<Engine::Change> Engine::changes() const {
  std::vector<Change> out;
  if (write_behind_ > 0) {
    out.reserve(unit_.size());
    for (const auto& [partition, id] : unit_) {
      auto it = cache_.find(std::pair<PartitionId, std::string_view>(partition, id));
      const bool held = it != cache_.end() && it->second.state;
      out.push_back({partition, id, held ? &*it->second.state : nullptr});
    }
    std::sort(out.begin(), out.end(), [](const Change& a, const Change& b) {
      return std::tie(a.partition, a.episode_id) < std::tie(b.partition, b.episode_id);
    });
    return out;
  }
  out.reserve(staged_.size());
  for (const auto& [key, state] : staged_) {
    out.push_back({key.first, key.second, state ? &*state : nullptr});
  }
  return out;
}

namespace {

// A packed episode's record (Cached::packed) parsed into `into`.
Result<void> unpack(const std::string& packed, PartitionId partition, std::string_view id,
                    storage::v1::EpisodeState& into) {
  if (into.ParseFromString(packed)) return ok();
  return fail(Errc::kCorruption, "the held record of episode " + std::string(id) +
                                     " in partition " + std::to_string(partition) +
                                     " does not parse");
}

bool settled(const storage::v1::EpisodeState& s) {
  return s.phase() == storage::v1::EpisodeState::CLOSED ||
         s.phase() == storage::v1::EpisodeState::CANCELLED;
}

const uint8_t kRetentionTimer =
    pack_timer_kind(storage::v1::TIMER_RETENTION, v1::DEADLINE_KIND_UNSPECIFIED);

}  // namespace

const std::optional<storage::v1::EpisodeState>* Engine::staged_state(PartitionId partition,
                                                                     std::string_view id) const {
  auto it = staged_.find(std::pair<PartitionId, std::string_view>(partition, id));
  return it == staged_.end() ? nullptr : &it->second;
}

Result<const storage::v1::EpisodeState*> Engine::peek(
    PartitionId partition, std::string_view id, std::optional<storage::v1::EpisodeState>& holder) {
  if (write_behind_ > 0) return peek_cached(partition, id);
  // The staged state is read in place: copying it for every input of an episode the unit already
  // touched cost more than the step itself.
  if (const auto* staged = staged_state(partition, id)) return *staged ? &**staged : nullptr;
  // Not through the transaction: its batch never holds an episode before write() (staged_ does).
  SAMORDNA_TRY(stored, episodes_.get(partition, id));
  holder = std::move(stored);
  return holder ? &*holder : nullptr;
}

Result<const storage::v1::EpisodeState*> Engine::peek_cached(PartitionId partition,
                                                             std::string_view id) {
  auto it = cache_.find(std::pair<PartitionId, std::string_view>(partition, id));
  if (it == cache_.end()) {
    peeked_ = nullptr;
    SAMORDNA_TRY(stored, episodes_.get(partition, id));
    if (!stored) return nullptr;  // held from its first stage() on, as not in the store
    it = cache_
             .emplace(EpisodeKey(partition, std::string(id)),
                      Cached{std::move(stored), /*in_store=*/true, /*dirty=*/false})
             .first;
    it->second.parsed = true;
  }
  peeked_ = &*it;
  Cached& held = it->second;
  held.touched = spills_;
  if (!held.state && !held.packed.empty()) {
    if (auto parsed = unpack(held.packed, partition, id, held.state.emplace()); !parsed) {
      held.state.reset();
      return parsed.error();
    }
    std::string().swap(held.packed);
  }
  return held.state ? &*held.state : nullptr;
}

Engine::Cached* Engine::held_slot(PartitionId partition, std::string_view id) {
  if (peeked_ != nullptr && peeked_->first.first == partition && peeked_->first.second == id) {
    return &peeked_->second;
  }
  auto it = cache_.find(std::pair<PartitionId, std::string_view>(partition, id));
  return it == cache_.end() ? nullptr : &it->second;
}

void Engine::put_cached(PartitionId partition, std::string_view id, storage::v1::EpisodeState* next,
                        size_t bytes) {
  if (list_changes_ && !unit_.contains(std::pair<PartitionId, std::string_view>(partition, id))) {
    unit_.emplace(partition, std::string(id));
  }
  Cached* held = held_slot(partition, id);
  if (held == nullptr) {
    if (next == nullptr) return;  // retired before the store ever had it
    held = &cache_.emplace(EpisodeKey(partition, std::string(id)), Cached{}).first->second;
  }
  if (next != nullptr) {
    held->state = std::move(*next);
    std::string().swap(held->packed);  // no-op after peek(), which unpacks
    if (settled(*held->state)) settled_.emplace_back(partition, std::string(id));
  } else if (held->in_store) {
    held->state.reset();  // the spill deletes it
    std::string().swap(held->packed);
  } else {
    peeked_ = nullptr;
    cache_.erase(cache_.find(std::pair<PartitionId, std::string_view>(partition, id)));
    return;
  }
  held->dirty = true;
  held->bytes = bytes;
  held->touched = spills_;
}

std::optional<storage::v1::EpisodeState>* Engine::lend(
    PartitionId partition, std::string_view id, const storage::v1::EpisodeState*& old,
    std::optional<storage::v1::EpisodeState>& holder, bool small_only) {
  if (write_behind_ == 0 || old == nullptr) return nullptr;
  Cached* held = held_slot(partition, id);
  SAMORDNA_CHECK(held != nullptr && old == &*held->state, "a held state is peeked");
  if (small_only && held->bytes > kMaxStateBytes / 2 && old->ByteSizeLong() > kMaxStateBytes / 2) {
    return nullptr;
  }
  holder = std::move(held->state);
  old = &*holder;
  return &held->state;
}

size_t Engine::bound_of(PartitionId partition, const storage::v1::EpisodeState& next) {
  if (write_behind_ == 0) return kUnknownBytes;
  const Cached* held = held_slot(partition, next.episode_id());
  if (held != nullptr && held->parsed) return kUnknownBytes;
  const size_t bound = size_bound_(next);
#ifndef NDEBUG
  // Every step of the debug build's tests checks the bound (release builds check it at each
  // spill, write_cache()).
  SAMORDNA_CHECK(next.ByteSizeLong() <= bound, "a built state is within its size bound");
#endif
  return bound;
}

void Engine::write_cache(rocksdb::WriteBatch& batch) {
  // retire_at, set by stage() after `bytes` was worked out: its tag and a 64-bit varint.
  constexpr size_t kRetireAt = 2 + 10;
  std::string record;
  for (auto it = cache_.begin(); it != cache_.end();) {
    auto& [key, held] = *it;
    if (!held.dirty) {
      ++it;
    } else if (held.state || !held.packed.empty()) {
      if (held.state) {
        SAMORDNA_CHECK(held.state->SerializeToString(&record), "episode state does not serialize");
      }
      const std::string& bytes = held.state ? record : held.packed;
      // The bound apply() decided the size limit with (state_size.h) held: a state it let through
      // is no larger than the log's exact size would have let through.
      SAMORDNA_CHECK(held.bytes == kUnknownBytes || bytes.size() <= held.bytes + kRetireAt,
                     "a held state is within the size apply() worked out for it");
      episodes_.put_record(batch, key.first, key.second, bytes);
      held.in_store = true;
      held.dirty = false;
      ++it;
    } else {
      episodes_.erase(batch, key.first, key.second);
      cache_.erase(it++);
    }
  }
}

void Engine::evict() {
  // Every held state is in the store now: half the budget stays held, for the episodes still in
  // flight. Those no input touched since the spill before go first; which ones stay changes the
  // time a replay takes, never its result.
  peeked_ = nullptr;
  for (const bool recent : {false, true}) {
    for (auto it = cache_.begin(); it != cache_.end() && cache_.size() > write_behind_ / 2;) {
      if (recent || it->second.touched < spills_) {
        cache_.erase(it++);
      } else {
        ++it;
      }
    }
  }
}

Result<std::optional<storage::v1::EpisodeState>> Engine::episode(PartitionId partition,
                                                                 std::string_view id,
                                                                 store::Txn* txn) const {
  if (write_behind_ > 0) {
    auto it = cache_.find(std::pair<PartitionId, std::string_view>(partition, id));
    if (it != cache_.end()) {
      if (it->second.state || it->second.packed.empty()) return it->second.state;
      storage::v1::EpisodeState state;
      SAMORDNA_TRYV(unpack(it->second.packed, partition, id, state));
      return std::optional(std::move(state));
    }
  }
  if (txn != nullptr) {
    if (const auto* staged = staged_state(partition, id)) return *staged;
  }
  return episodes_.get(partition, id, txn);
}

Result<void> Engine::stage(PartitionId partition, const Held& old, storage::v1::EpisodeState& next,
                           std::optional<Instant> now, store::Txn& txn, size_t bytes) {
  auto key = [&](uint8_t kind) { return timers::TimerKey{partition, next.episode_id(), kind}; };
  // The store has pending exactly the timers the old state holds (they are written in one batch),
  // so no schedule or cancel below needs to look the pending one up.
  const timers::TimerStore::Pending retention_pending = old.retention();
  // Retention: the first time an episode is settled (or cancelled), it gets the instant it leaves
  // the store. The state machine copies the field along like any other.
  if (now && retention_.count() > 0 && settled(next) && !next.has_retire_at()) {
    next.set_retire_at(to_unix(*now + retention_));
  }
  // A settled episode can open again (a cancelled discharge, HL7 A13): it is kept until it is
  // settled anew, and gets a new retire_at then.
  if (!settled(next) && next.has_retire_at()) {
    next.clear_retire_at();
    SAMORDNA_TRYV(timers_.cancel(txn, key(kRetentionTimer), retention_pending));
  }
  if (next.has_retire_at() && retention_pending.at != from_unix(next.retire_at())) {
    SAMORDNA_TRYV(timers_.schedule(txn, key(kRetentionTimer), from_unix(next.retire_at()),
                                   retention_pending));
  }
  const TimerSet& before = old.timers;
  const TimerSet after = timers_of(&next);
  for (const auto& [kind, fire_at] : before) {
    if (!after.contains(kind)) {
      SAMORDNA_TRYV(timers_.cancel(txn, key(kind), {from_unix(fire_at)}));
    }
  }
  for (const auto& [kind, fire_at] : after) {
    auto it = before.find(kind);
    if (it != before.end() && it->second == fire_at) continue;
    const timers::TimerStore::Pending pending{
        it == before.end() ? std::nullopt : std::optional<Instant>(from_unix(it->second))};
    SAMORDNA_TRYV(timers_.schedule(txn, key(kind), from_unix(fire_at), pending));
  }
  if (probe_ && probe_->partition == partition && probe_->episode_id == next.episode_id()) {
    drop_probe();  // the probed step was taken from the state before this one
  }
  forget_record(partition, next.episode_id());  // a record of the state before this one is stale
  if (write_behind_ > 0) {
    // retire_at (set or cleared above) changes the size by a few bytes: still known within the
    // margin it is used with (lend()).
    put_cached(partition, next.episode_id(), &next, bytes);
    return ok();
  }
  // Last: `next` is the caller's to give up (a transition's new state), and moves here.
  auto slot = staged_.find(std::pair<PartitionId, std::string_view>(partition, next.episode_id()));
  if (slot == staged_.end()) {
    std::string id = next.episode_id();
    staged_.emplace(EpisodeKey(partition, std::move(id)), std::move(next));
  } else {
    slot->second = std::move(next);
  }
  return ok();
}

void Engine::pack_settled() {
  for (const auto& key : settled_) {
    auto it = cache_.find(std::pair<PartitionId, std::string_view>(key.first, key.second));
    // Changed again later in the unit (reopened by a late fact, retired), or packed already.
    if (it == cache_.end() || !it->second.state || !settled(*it->second.state)) continue;
    Cached& held = it->second;
    // The changelog's record of it (record()) is these bytes: taken, not serialized again.
    auto record = records_.find(std::pair<PartitionId, std::string_view>(key.first, key.second));
    if (record != records_.end()) {
      held.packed = std::move(record->second);
    } else {
      SAMORDNA_CHECK(held.state->SerializeToString(&held.packed),
                     "episode state does not serialize");
    }
    held.state.reset();
  }
  settled_.clear();
}

Result<void> Engine::write(store::Txn& txn) {
  drop_probe();  // a probe is for the next apply() of the same unit
  if (write_behind_ > 0) {
    pack_settled();
    unit_.clear();
    records_.clear();
    // The transaction keeps the unit's other writes (the clocks, the checkpoints) for the spill:
    // the store moves from one spill to the next in one atomic write.
    if (!spill_ && cache_.size() <= write_behind_) return ok();
    write_cache(*txn.batch().GetWriteBatch());
    timers_.spill(*txn.batch().GetWriteBatch());
    SAMORDNA_TRYV(db_.write(txn));
    txn.clear();
    evict();
    spill_ = false;
    ++spills_;
    return ok();
  }
  // An episode staged several times in the unit is serialised once, by record() (the changelog may
  // have asked first). Into the batch without its index: nothing reads through the transaction
  // between these puts and its write (staged_ is the engine's read-your-writes for episodes).
  for (const auto& [key, state] : staged_) {
    if (state) {
      episodes_.put_record(*txn.batch().GetWriteBatch(), key.first, key.second,
                           record(key.first, key.second));
    } else {
      episodes_.erase(*txn.batch().GetWriteBatch(), key.first, key.second);
    }
  }
  SAMORDNA_TRYV(db_.write(txn));
  txn.clear();
  staged_.clear();
  records_.clear();
  return ok();
}

void Engine::forget_record(PartitionId partition, std::string_view id) {
  if (records_.empty()) return;
  auto it = records_.find(std::pair<PartitionId, std::string_view>(partition, id));
  if (it != records_.end()) records_.erase(it);
}

const std::string& Engine::record(PartitionId partition, std::string_view id) {
  const auto key = std::pair<PartitionId, std::string_view>(partition, id);
  auto it = records_.find(key);
  if (it != records_.end()) return it->second;
  const storage::v1::EpisodeState* state = nullptr;
  if (write_behind_ > 0) {
    const Cached* held = held_slot(partition, id);
    if (held != nullptr && held->state) state = &*held->state;
  } else if (const auto* staged = staged_state(partition, id); staged != nullptr && *staged) {
    state = &**staged;
  }
  SAMORDNA_CHECK(state != nullptr, "a record is of a changed state");
  std::string bytes;
  SAMORDNA_CHECK(state->SerializeToString(&bytes), "episode state does not serialize");
  return records_.emplace(EpisodeKey(partition, std::string(id)), std::move(bytes)).first->second;
}

state::StepResult Engine::step_event(const storage::v1::EpisodeState* old,
                                     std::optional<storage::v1::EpisodeState>& holder,
                                     const v1::Event& event, Instant now) const {
  // A state read from the store for this step only becomes the next state: no copy of it.
  if (old != nullptr && holder && old == &*holder) {
    return state::apply_event(std::move(*holder), event, rules_, now);
  }
  return state::apply_event(old, event, rules_, now);
}

state::StepResult Engine::step_lending(PartitionId partition, const v1::Event& event, Instant now,
                                       const storage::v1::EpisodeState* old,
                                       std::optional<storage::v1::EpisodeState>& holder,
                                       bool may_lend,
                                       std::optional<storage::v1::EpisodeState>*& lent) {
  // Lent only while no single event can take it past kMaxStateBytes (strings are capped at 4 KiB,
  // services deduplicated: a step adds a few KiB at most), so a refusal after the step never needs
  // the state the step consumed.
  lent = may_lend ? lend(partition, event.episode_id(), old, holder, /*small_only=*/true) : nullptr;
  auto step = step_event(old, holder, event, now);
  if (lent != nullptr && (!step || step.value().outcome != state::Transition::Outcome::kApplied)) {
    *lent = std::move(holder);  // refused or a duplicate: the state as it was, back in its slot
    lent = nullptr;
  }
  return step;
}

void Engine::drop_probe() {
  SAMORDNA_CHECK(!probe_ || probe_->lent == nullptr,
                 "a probe holding a lent state is taken by its apply()");
  probe_.reset();
}

Result<Outcome> Engine::check(PartitionId partition, const v1::Event& event, Instant now) {
  drop_probe();
  // Read in place, as apply() reads: the probe keeps the step and the timers the old state held,
  // not a copy of that state (a copy cost as much as the step).
  std::optional<storage::v1::EpisodeState> holder;
  SAMORDNA_TRY(old, peek(partition, event.episode_id(), holder));
  Held held = held_by(old);
  // Write-behind: the held state is lent to the step as apply() lends it, when none of the
  // episode's own timers is due by `now`. The timers the caller fires before apply() are then
  // all other episodes', so nothing reads or changes this one in between, and apply() takes the
  // step (the copy it saves was a twentieth of a bulk replay's CPU).
  const int64_t by = to_unix(now);
  const bool quiet = std::none_of(held.timers.begin(), held.timers.end(),
                                  [&](const auto& timer) { return timer.second <= by; }) &&
                     (!held.retire_at || *held.retire_at > by);
  std::optional<storage::v1::EpisodeState>* lent = nullptr;
  auto step = step_lending(partition, event, now, old, holder, quiet, lent);
  Outcome outcome;
  if (!step) {
    // Kept only for an apply() that follows: a caller refused here moves on to other input, and
    // its event object may come back at the same address with other content.
    outcome.kind = Outcome::Kind::kRejected;
    outcome.rejection = std::move(step.error());
    return outcome;
  }
  if (step.value().outcome == state::Transition::Outcome::kDuplicate) {
    outcome.kind = Outcome::Kind::kDuplicate;
  }
  probe_.emplace(
      Probe{partition, &event, event.episode_id(), now, std::move(held), std::move(step), lent});
  return outcome;
}

Result<Outcome> Engine::apply(PartitionId partition, const v1::Event& event, Instant now,
                              store::Txn& txn) {
  Outcome outcome;
  std::optional<state::StepResult> taken;
  Held held;
  // Write-behind: the held state's slot, when this step builds on the state itself.
  std::optional<storage::v1::EpisodeState>* lent = nullptr;
  if (probe_ && probe_->partition == partition && probe_->event == &event && probe_->now == now) {
    held = std::move(probe_->held);
    taken.emplace(std::move(probe_->step));
    lent = std::exchange(probe_->lent, nullptr);
  }
  drop_probe();
  if (!taken) {
    std::optional<storage::v1::EpisodeState> stored;
    SAMORDNA_TRY(old, peek(partition, event.episode_id(), stored));
    held = held_by(old);
    taken.emplace(step_lending(partition, event, now, old, stored, /*may_lend=*/true, lent));
  }
  state::StepResult step = std::move(*taken);
  if (!step) {
    outcome.kind = Outcome::Kind::kRejected;
    outcome.rejection = std::move(step.error());
    return outcome;
  }
  state::Transition& t = step.value();
  if (t.outcome == state::Transition::Outcome::kDuplicate) {
    outcome.kind = Outcome::Kind::kDuplicate;
    return outcome;
  }
  // A state that could not travel as one changelog record would block its partition on every
  // restart: refuse the event that would make it so, like any other bad input.
  // Write-behind: a state's bound (state_size.h) within the limit answers as its exact size would,
  // without the walk (ByteSizeLong was 12 to 15 % of a bulk replay).
  size_t bytes = bound_of(partition, t.next);
  if (bytes > kMaxStateBytes) bytes = t.next.ByteSizeLong();
  if (bytes > kMaxStateBytes) {
    if (lent != nullptr) {
      return fail(Errc::kInvalidArgument,
                  "an event grew an episode's state by more than " +
                      std::to_string(kMaxStateBytes / 2) +
                      " bytes in one step, which a replay without the write-ahead log cannot "
                      "refuse: replay it with the log");
    }
    outcome.kind = Outcome::Kind::kRejected;
    outcome.rejection =
        state::Rejection{state::Rejection::Code::kMalformed,
                         "the episode's state would exceed " + std::to_string(kMaxStateBytes) +
                             " bytes, the most one changelog record holds (state_too_large)"};
    return outcome;
  }
  SAMORDNA_TRYV(stage(partition, held, t.next, now, txn, bytes));
  outcome.notifications = std::move(t.notifications);
  return outcome;
}

Result<size_t> Engine::fire_due(PartitionId partition, Instant now, size_t limit,
                                std::vector<v1::Notification>& out, store::Txn& txn,
                                std::vector<Instant>* fire_times) {
  SAMORDNA_TRY(due, timers_.due(partition, now, limit, &txn));
  for (const auto& timer : due) {
    if (fire_times != nullptr) fire_times->push_back(timer.fire_at);
    if (timer.key.kind == kRetentionTimer) {
      SAMORDNA_TRYV(retire(partition, timer.key.episode_id, txn));
      continue;
    }
    std::optional<storage::v1::EpisodeState> loaded;
    SAMORDNA_TRY(stored, peek(partition, timer.key.episode_id, loaded));
    const Held held = held_by(stored);
    const state::TimerFired fired = unpack_timer(timer.key.kind, timer.fire_at);
    state::Transition t;
    // A timer never refuses: a held state is lent to the step whatever its size.
    auto* lent = lend(partition, timer.key.episode_id, stored, loaded, /*small_only=*/false);
    if (stored == nullptr) {
      t.outcome = state::Transition::Outcome::kStale;  // the episode is gone: nothing to fire
    } else if (loaded && stored == &*loaded) {
      t = state::fire_timer(std::move(*loaded), fired, rules_, now);  // read for this step only
    } else {
      t = state::fire_timer(*stored, fired, rules_, now);
    }
    if (t.outcome == state::Transition::Outcome::kStale) {
      if (lent != nullptr) *lent = std::move(loaded);  // untouched: back into its slot
      // A timer the episode no longer holds: drop it so it is not handed out again. It is pending
      // at the time the store just handed it out.
      SAMORDNA_TRYV(timers_.cancel(txn, timer.key, {timer.fire_at}));
      continue;
    }
    SAMORDNA_TRYV(stage(partition, held, t.next, now, txn, bound_of(partition, t.next)));
    for (auto& n : t.notifications) out.push_back(std::move(n));
  }
  return due.size();
}

Result<void> Engine::retire(PartitionId partition, std::string_view episode_id, store::Txn& txn) {
  // Only its timers are needed of the state: a stored one is not parsed whole (retiring was a
  // twentieth of `run`'s CPU, most of it parsing the notices of a closed episode).
  Held held;
  auto timers_of_record = [&](std::string_view record) -> Result<void> {
    auto read = held_by_record(record);
    if (!read) {
      return fail(Errc::kCorruption, "episode " + std::string(episode_id) + " in partition " +
                                         std::to_string(partition) + ": " + read.error().message);
    }
    held = std::move(read.value());
    return ok();
  };
  const Cached* slot = write_behind_ > 0 ? held_slot(partition, episode_id) : nullptr;
  if (slot != nullptr && !slot->state && !slot->packed.empty()) {
    SAMORDNA_TRYV(timers_of_record(slot->packed));
  } else if (write_behind_ > 0 || staged_state(partition, episode_id) != nullptr) {
    std::optional<storage::v1::EpisodeState> loaded;
    SAMORDNA_TRY(stored, peek(partition, episode_id, loaded));
    // A changelog tombstone may name an episode this store never had: then it has no timers
    // either (an episode's state and timers are written in one batch): nothing to remove.
    if (stored == nullptr) return ok();
    held = held_by(stored);
  } else {
    SAMORDNA_TRY(record, episodes_.get_record(partition, episode_id));
    if (!record) return ok();
    SAMORDNA_TRYV(timers_of_record(*record));
  }
  const std::string id(episode_id);
  auto key = [&](uint8_t kind) { return timers::TimerKey{partition, id, kind}; };
  SAMORDNA_TRYV(timers_.cancel(txn, key(kRetentionTimer), held.retention()));
  for (const auto& [kind, fire_at] : held.timers) {
    SAMORDNA_TRYV(timers_.cancel(txn, key(kind), {from_unix(fire_at)}));
  }
  if (probe_ && probe_->partition == partition && probe_->episode_id == episode_id) {
    drop_probe();
  }
  ++retired_;
  forget_record(partition, id);
  if (write_behind_ > 0) {
    put_cached(partition, id, nullptr, kUnknownBytes);
    return ok();
  }
  staged_.insert_or_assign(EpisodeKey(partition, id), std::nullopt);
  return ok();
}

Result<void> Engine::restore(PartitionId partition, const storage::v1::EpisodeState& state,
                             store::Txn& txn) {
  std::optional<storage::v1::EpisodeState> loaded;
  SAMORDNA_TRY(stored, peek(partition, state.episode_id(), loaded));
  const Held held = held_by(stored);
  storage::v1::EpisodeState next = state;
  SAMORDNA_TRYV(stage(partition, held, next, std::nullopt, txn));
  // Written by another process: it may hold what SizeBound does not bound.
  if (write_behind_ > 0) held_slot(partition, state.episode_id())->parsed = true;
  return ok();
}

}  // namespace samordna::pipeline
