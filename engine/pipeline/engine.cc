#include "engine/pipeline/engine.h"

#include <map>
#include <utility>

#include "engine/core/check.h"

namespace samordna::pipeline {
namespace {

using TimerSet = std::map<uint8_t, int64_t>;  // packed kind -> fire_at

TimerSet timers_of(const v1::EpisodeState* state) {
  TimerSet out;
  if (state == nullptr) return out;
  for (const auto& t : state->timers()) {
    const bool inserted = out.emplace(pack_timer_kind(t.kind(), t.deadline()), t.fire_at()).second;
    SAMORDNA_CHECK(inserted, "an episode holds at most one timer per kind and deadline");
  }
  return out;
}

}  // namespace

uint8_t pack_timer_kind(v1::TimerKind kind, v1::DeadlineKind deadline) {
  SAMORDNA_CHECK(kind >= 0 && kind < 16 && deadline >= 0 && deadline < 16, "timer kinds fit a nibble");
  return static_cast<uint8_t>((static_cast<unsigned>(kind) << 4) | static_cast<unsigned>(deadline));
}

state::TimerFired unpack_timer(uint8_t packed, Instant fire_at) {
  state::TimerFired t;
  t.kind = static_cast<v1::TimerKind>(packed >> 4);
  t.deadline = static_cast<v1::DeadlineKind>(packed & 0x0f);
  t.fire_at = fire_at;
  return t;
}

Engine::Engine(store::Db& db, const rules::RuleBook& rules)
    : db_(db), episodes_(db), timers_(db), rules_(rules) {}

Result<void> Engine::open() { return timers_.load(); }

Result<void> Engine::commit(PartitionId partition, const v1::EpisodeState* old,
                            const v1::EpisodeState& next,
                            const std::optional<timers::TimerKey>& fired_stale, const BatchHook& hook) {
  rocksdb::WriteBatch batch;
  episodes_.put(batch, partition, next);

  const TimerSet before = timers_of(old);
  const TimerSet after = timers_of(&next);
  std::vector<Instant> scheduled;
  auto key = [&](uint8_t kind) { return timers::TimerKey{partition, next.episode_id(), kind}; };
  for (const auto& [kind, fire_at] : before) {
    if (!after.contains(kind)) {
    SAMORDNA_TRYV(timers_.cancel(batch, key(kind)));
  }
  }
  for (const auto& [kind, fire_at] : after) {
    auto it = before.find(kind);
    if (it != before.end() && it->second == fire_at) continue;
    SAMORDNA_TRYV(timers_.schedule(batch, key(kind), from_unix(fire_at)));
    scheduled.push_back(from_unix(fire_at));
  }
  if (fired_stale) {
    SAMORDNA_TRYV(timers_.cancel(batch, *fired_stale));
  }
  if (hook) hook(batch);

  SAMORDNA_TRYV(db_.write(batch));
  for (Instant t : scheduled) timers_.committed(partition, t);
  return ok();
}

Result<Outcome> Engine::apply(PartitionId partition, const v1::Event& event, Instant now,
                              const BatchHook& hook) {
  Outcome outcome;
  SAMORDNA_TRY(stored, episodes_.get(partition, event.episode_id()));
  const v1::EpisodeState* old = stored ? &*stored : nullptr;
  auto step = state::apply_event(old, event, rules_, now);
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
  SAMORDNA_TRYV(commit(partition, old, t.next, std::nullopt, hook));
  outcome.notifications = std::move(t.notifications);
  return outcome;
}

Result<size_t> Engine::fire_due(PartitionId partition, Instant now, size_t limit,
                                std::vector<v1::Notification>& out, const BatchHook& hook) {
  SAMORDNA_TRY(due, timers_.due(partition, now, limit));
  for (const auto& timer : due) {
    SAMORDNA_TRY(stored, episodes_.get(partition, timer.key.episode_id));
    if (!stored) {
      // A timer whose episode is gone: drop it, nothing to fire.
      rocksdb::WriteBatch batch;
      SAMORDNA_TRYV(timers_.cancel(batch, timer.key));
      if (hook) hook(batch);
      SAMORDNA_TRYV(db_.write(batch));
      continue;
    }
    state::Transition t =
        state::fire_timer(*stored, unpack_timer(timer.key.kind, timer.fire_at), rules_, now);
    if (t.outcome == state::Transition::Outcome::kStale) {
      SAMORDNA_TRYV(commit(partition, &*stored, *stored, timer.key, hook));
      continue;
    }
    SAMORDNA_TRYV(commit(partition, &*stored, t.next, std::nullopt, hook));
    for (auto& n : t.notifications) out.push_back(std::move(n));
  }
  return due.size();
}

Result<size_t> Engine::fire_all_due(PartitionId partition, Instant now,
                                    std::vector<v1::Notification>& out, size_t pass_size) {
  size_t total = 0;
  while (true) {
    auto head = timers_.next_due(partition);
    if (!head || *head > now) return total;
    SAMORDNA_TRY(fired, fire_due(partition, now, pass_size, out));
    total += fired;
    if (fired < pass_size) return total;
  }
}

}  // namespace samordna::pipeline
