#include "engine/pipeline/driver.h"

#include <algorithm>
#include <charconv>

#include "engine/core/check.h"
#include "engine/pipeline/rules_in_use.h"
#include "engine/state/episode_view.h"

namespace samordna::pipeline {
namespace {

constexpr size_t kRestoreFlushEvery = 10000;  // changelog records per store write while restoring

// Per-partition bookkeeping in the meta family (engine/README.md, "Durable key layout"):
// "changelog-checkpoint/<p>" and "clock/<p>", decimal ASCII.
std::string checkpoint_key(PartitionId p) { return "changelog-checkpoint/" + std::to_string(p); }
std::string clock_key(PartitionId p) { return "clock/" + std::to_string(p); }

Result<std::optional<int64_t>> read_decimal(const store::Db& db, const std::string& key) {
  SAMORDNA_TRY(value, db.get(store::Family::kMeta, key));
  if (!value) return std::optional<int64_t>{};
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), v);
  if (ec != std::errc() || end != value->data() + value->size()) {
    return fail(Errc::kCorruption, "meta key " + key + " is not a decimal number");
  }
  return std::optional<int64_t>{v};
}

}  // namespace

Driver::Driver(StateStore& db, const rules::RuleBook& rules, Output& output, DriverOptions options)
    : db_(db),
      rules_(rules),
      engine_(db, rules, options.retention),
      output_(output),
      options_(std::move(options)) {
  if (options_.write_behind > 0) {
    engine_.write_behind(options_.write_behind, options_.changelog || options_.views);
  }
}

Result<void> Driver::open() {
  // Episodes in flight keep the rule set they started under: refuse a book that changed it.
  SAMORDNA_TRYV(check_rules_in_use(db_, rules_));
  return engine_.open();
}

Result<void> Driver::add_partition(PartitionId p) {
  SAMORDNA_TRY(clock, read_decimal(db_, clock_key(p)));
  if (clock) {
    clock_[p] = from_unix(*clock);
    committed_clock_[p] = from_unix(*clock);
  }
  return ok();
}

void Driver::remove_partition(PartitionId p) {
  clock_.erase(p);
  committed_clock_.erase(p);
}

Instant Driver::now(PartitionId p) const {
  if (options_.clock == ClockMode::kWall) return SystemClock().now();
  auto it = clock_.find(p);
  return it == clock_.end() ? Instant{} : it->second;
}

bool Driver::overdue(PartitionId p) const {
  const auto head = engine_.next_due(p);
  return head && *head <= now(p);
}

std::chrono::steady_clock::duration Driver::unit_age() const {
  return in_unit_ ? std::chrono::steady_clock::now() - unit_started_
                  : std::chrono::steady_clock::duration{};
}

Result<void> Driver::begin() {
  if (in_unit_) return ok();
  SAMORDNA_TRYV(output_.begin());
  in_unit_ = true;
  unit_inputs_ = 0;
  unit_started_ = std::chrono::steady_clock::now();
  at_begin_ = counts_;
  return ok();
}

Result<void> Driver::emit(std::vector<v1::Notification>& notifications) {
  for (const auto& n : notifications) {
    SAMORDNA_TRYV(output_.notify(n));
  }
  counts_.notified += notifications.size();
  return ok();
}

Result<void> Driver::refused() {
  SAMORDNA_TRYV(begin());
  ++unit_inputs_;
  ++counts_.rejected;
  ++counts_.refused;
  return ok();
}

Result<Outcome> Driver::event(PartitionId p, const v1::Event& e) {
  SAMORDNA_TRYV(begin());
  ++unit_inputs_;
  ++counts_.events;
  auto rejected = [&](std::string reason) {
    ++counts_.rejected;
    Outcome o;
    o.kind = Outcome::Kind::kRejected;
    o.rejection = state::Rejection{state::Rejection::Code::kMalformed, std::move(reason)};
    return o;
  };
  // The envelope: without these the event has no place in any episode or in time.
  if (e.episode_id().empty()) return rejected("episodeId is required");
  if (!e.has_occurred_at()) return rejected("occurredAt is required");

  Instant at = now(p);
  if (options_.clock == ClockMode::kEventTime) {
    const Instant t = from_proto(e.has_recorded_at() ? e.recorded_at() : e.occurred_at());
    if (t > at) {
      // Timers the event's time passes fire before it, as they would have in real time; but only
      // for an event that applies: a refused line must not move time (it may be years off).
      if (const auto head = engine_.next_due(p); head && *head <= t) {
        SAMORDNA_TRY(probe, engine_.check(p, e, t));
        if (probe.kind == Outcome::Kind::kRejected) {
          ++counts_.rejected;
          return probe;
        }
        clock_[p] = t;
        while (true) {
          SAMORDNA_TRY(fired, fire(p, options_.timer_pass));
          if (fired < options_.timer_pass) break;
        }
      }
      at = t;
    }
  }
  SAMORDNA_TRY(outcome, engine_.apply(p, e, at, txn_));
  switch (outcome.kind) {
    case Outcome::Kind::kApplied: {
      ++counts_.applied;
      if (options_.clock == ClockMode::kEventTime && at > now(p)) clock_[p] = at;
      SAMORDNA_TRYV(emit(outcome.notifications));
      break;
    }
    case Outcome::Kind::kDuplicate:
      // A re-sent event is a good event: its time is the sender's, as an applied one's is.
      ++counts_.duplicates;
      if (options_.clock == ClockMode::kEventTime && at > now(p)) clock_[p] = at;
      break;
    case Outcome::Kind::kRejected:
      ++counts_.rejected;
      break;
  }
  return outcome;
}

Result<size_t> Driver::fire(PartitionId p, size_t limit) {
  std::vector<v1::Notification> out;
  const size_t retired_before = engine_.retired();
  fire_times_.clear();
  SAMORDNA_TRY(fired, engine_.fire_due(p, now(p), limit, out, txn_,
                                       options_.on_timer_fired ? &fire_times_ : nullptr));
  for (const Instant at : fire_times_) options_.on_timer_fired(p, at);
  // The head is a lower bound (the timer store keeps it coarse): a pass may find nothing due, and
  // then opens no unit of work.
  if (fired == 0) return fired;
  SAMORDNA_TRYV(begin());
  unit_inputs_ += fired;
  counts_.fired += fired;
  counts_.retired += engine_.retired() - retired_before;
  SAMORDNA_TRYV(emit(out));
  return fired;
}

Result<size_t> Driver::timer_pass(PartitionId p) {
  if (!overdue(p)) return size_t{0};
  const size_t used = in_unit_ ? std::min(options_.max_batch, unit_inputs_) : 0;
  const size_t limit = std::min(options_.timer_pass, options_.max_batch - used);
  if (limit == 0) return size_t{0};
  return fire(p, limit);
}

void Driver::advance_clock(PartitionId p, Instant to) {
  auto& c = clock_[p];
  if (to > c) c = to;
}

Result<bool> Driver::commit() {
  if (!in_unit_) return true;
  Changes changes;
  if (options_.changelog || options_.views) {
    const std::vector<Engine::Change> changed = engine_.changes();
    // Sized once, before any view is taken by address.
    if (options_.views && views_.size() < changed.size()) views_.resize(changed.size());
    size_t made = 0;
    for (const auto& [p, id, state] : changed) {
      std::string_view view;
      if (options_.views && state != nullptr) {
        std::string& bytes = views_[made++];
        bytes.clear();
        state::write_view(*state, rules_, bytes);
        view = bytes;
      }
      const std::string_view record = state != nullptr && options_.changelog
                                          ? std::string_view(engine_.record(p, id))
                                          : std::string_view();
      changes.episodes.push_back({p, std::string(id), state, record, view});
    }
  }
  for (const auto& [p, clock] : clock_) {
    auto it = committed_clock_.find(p);
    if (it == committed_clock_.end() || it->second != clock) changes.clocks.emplace_back(p, clock);
  }
  SAMORDNA_TRY(checkpoints, output_.commit(changes));
  if (!checkpoints) {
    SAMORDNA_TRYV(drop_unit());
    return false;
  }
  // Committed outside: now the store, with the positions and clocks that commit reached. Dying
  // before this write leaves the store behind, which the next restore mends.
  auto* meta = db_.family(store::Family::kMeta);
  for (const auto& [p, position] : *checkpoints) {
    SAMORDNA_CHECK(txn_.batch().Put(meta, checkpoint_key(p), std::to_string(position)).ok(),
                   "batch refused");
  }
  for (const auto& [p, clock] : changes.clocks) {
    SAMORDNA_CHECK(txn_.batch().Put(meta, clock_key(p), std::to_string(to_unix(clock))).ok(),
                   "batch refused");
  }
  // Write-behind: a live service's store is written at least this often, so that a restart
  // reads little of the changelog.
  if (options_.write_behind > 0 && options_.spill_every.count() > 0 &&
      std::chrono::steady_clock::now() - last_spill_ >= options_.spill_every) {
    engine_.spill();
  }
  SAMORDNA_TRYV(engine_.write(txn_));
  note_spills();
  committed_clock_ = clock_;
  in_unit_ = false;
  ++counts_.units;
  return true;
}

void Driver::note_spills() {
  if (engine_.spills() != counts_.spills) last_spill_ = std::chrono::steady_clock::now();
  counts_.spills = engine_.spills();
}

Result<void> Driver::spill() {
  SAMORDNA_TRY(committed, commit());
  if (!committed) return fail(Errc::kUnavailable, "the output aborted the last unit of work");
  if (options_.write_behind == 0) return ok();
  engine_.spill();
  SAMORDNA_TRYV(engine_.write(txn_));
  note_spills();
  return ok();
}

Result<void> Driver::drop_unit() {
  in_unit_ = false;
  counts_ = at_begin_;  // the dropped inputs come again: count them once
  txn_.clear();
  clock_ = committed_clock_;  // the inputs are applied again at their own time
  // Write-behind: what was held goes too, the committed units' states with the dropped one's, and
  // the store is the last spill's: the adapter restores from its log (Output::commit).
  if (options_.write_behind > 0) return engine_.drop_held();
  return engine_.open();  // the heads moved past timers the dropped unit fired
}

Result<void> Driver::flush_restore(PartitionId p, int64_t position) {
  SAMORDNA_CHECK(!in_unit_, "no unit of work is open while a partition is restored");
  auto* meta = db_.family(store::Family::kMeta);
  SAMORDNA_CHECK(txn_.batch().Put(meta, checkpoint_key(p), std::to_string(position)).ok(),
                 "batch refused");
  restored_since_flush_ = 0;
  // Into the store at once, also with write-behind: the adapter reads its checkpoint and clock
  // next.
  if (options_.write_behind > 0) engine_.spill();
  SAMORDNA_TRYV(engine_.write(txn_));
  note_spills();
  return ok();
}

Result<void> Driver::restored(PartitionId p, int64_t next_position) {
  // A long restore is written in pieces, each with the position it reached: one that is
  // interrupted goes on from there.
  if (++restored_since_flush_ < kRestoreFlushEvery) return ok();
  return flush_restore(p, next_position);
}

Result<void> Driver::restore_episode(PartitionId p, std::string_view record,
                                     int64_t next_position) {
  storage::v1::EpisodeState state;
  if (!state.ParseFromArray(record.data(), static_cast<int>(record.size()))) {
    return fail(Errc::kCorruption, "not an episode state record");
  }
  SAMORDNA_TRYV(engine_.restore(p, state, txn_));
  return restored(p, next_position);
}

Result<void> Driver::restore_retired(PartitionId p, std::string_view episode_id,
                                     int64_t next_position) {
  SAMORDNA_TRYV(engine_.retire(p, episode_id, txn_));
  return restored(p, next_position);
}

void Driver::restore_clock(PartitionId p, Instant clock) {
  SAMORDNA_CHECK(
      txn_.batch()
          .Put(db_.family(store::Family::kMeta), clock_key(p), std::to_string(to_unix(clock)))
          .ok(),
      "batch refused");
}

Result<void> Driver::restore_done(PartitionId p, int64_t position) {
  return flush_restore(p, position);
}

Result<int64_t> Driver::checkpoint(PartitionId p) const {
  SAMORDNA_TRY(value, read_decimal(db_, checkpoint_key(p)));
  return value.value_or(0);
}

Result<std::optional<storage::v1::EpisodeState>> Driver::episode(PartitionId p,
                                                                 std::string_view id) {
  return engine_.episode(p, id, &txn_);
}

Result<void> Driver::each_view(PartitionId p,
                               const std::function<Result<void>(const v1::EpisodeView&)>& f) {
  SAMORDNA_CHECK(!in_unit_, "views are read between units of work");
  rocksdb::ReadOptions read;
  std::string prefix;
  store::put_u32(prefix, p);
  auto it = db_.iterator(store::Family::kEpisodes, read);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    storage::v1::EpisodeState state;
    if (!state.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return fail(Errc::kCorruption,
                  "an episode record of partition " + std::to_string(p) + " does not parse");
    }
    SAMORDNA_TRYV(f(state::view_of(state, rules_)));
  }
  if (!it->status().ok()) return store::to_error(it->status(), "reading the episodes");
  return ok();
}

std::pair<uint64_t, uint64_t> Driver::estimate_size() const {
  uint64_t episodes = 0, timers = 0;
  db_.raw().GetIntProperty(db_.family(store::Family::kEpisodes), "rocksdb.estimate-num-keys",
                           &episodes);
  if (const auto held = engine_.timers_held()) {
    timers = *held;
  } else {
    db_.raw().GetIntProperty(db_.family(store::Family::kTimers), "rocksdb.estimate-num-keys",
                             &timers);
  }
  return {episodes, timers};
}

}  // namespace samordna::pipeline
