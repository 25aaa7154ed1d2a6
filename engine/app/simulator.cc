#include "engine/app/simulator.h"

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include <istream>
#include <ostream>

#include "engine/core/json_error.h"

namespace samordna::app {

Simulator::Simulator(const rules::RuleBook& rules, std::ostream& notifications,
                     std::ostream& rejections)
    : rules_(rules), notifications_(notifications), rejections_(rejections) {}

void Simulator::emit(const std::vector<v1::Notification>& batch, SimulationStats& stats) {
  std::string json;
  for (const auto& n : batch) {
    json.clear();
    json_.print(n, json);
    json += '\n';
    notifications_ << json;
  }
  stats.notifications += batch.size();
}

void Simulator::report(size_t line, const std::string& event_id, const std::string& episode_id,
                       const std::string& code, const std::string& reason) {
  nlohmann::json j = {{"line", line}, {"code", code}, {"reason", reason}};
  // Ids are echoed so the sender can find the line, but not without bound: an oversized id is a
  // reason for rejection itself.
  auto id = [](const std::string& s) { return s.size() <= 256 ? s : s.substr(0, 64) + "..."; };
  if (!event_id.empty()) j["eventId"] = id(event_id);
  if (!episode_id.empty()) j["episodeId"] = id(episode_id);
  rejections_ << j.dump() << '\n';
}

Result<SimulationStats> Simulator::run(std::istream& events, const SimulationOptions& options) {
  store::DbOptions db_options;
  db_options.in_memory = !options.state_dir.has_value();
  SAMORDNA_TRY(db, store::Db::open(options.state_dir.value_or("/samordna-sim"), db_options));
  db_ = std::move(db);
  engine_ = std::make_unique<pipeline::Engine>(*db_, rules_);
  SAMORDNA_TRYV(engine_->open());

  constexpr store::PartitionId kPartition = 0;
  SimulationStats stats;
  std::optional<Instant> clock;
  std::vector<v1::Notification> out;

  constexpr size_t kTimerPass = 1024;
  // Inputs staged per RocksDB write. Reads go through the transaction, so batching changes no
  // result; a simulation needs no per-input durability (the service writes per Kafka transaction).
  constexpr size_t kInputsPerWrite = 1024;
  store::Txn txn;
  size_t staged = 0;
  auto stage_done = [&](size_t inputs) -> Result<void> {
    staged += inputs;
    if (staged < kInputsPerWrite) return ok();
    staged = 0;
    return engine_->write(txn);
  };
  // Fires every timer the clock passes, in bounded passes, one transaction per pass.
  auto advance = [&](Instant to) -> Result<void> {
    while (true) {
      const auto head = engine_->next_due(kPartition);
      if (!head || *head > to) return ok();
      out.clear();
      SAMORDNA_TRY(fired, engine_->fire_due(kPartition, to, kTimerPass, out, txn));
      SAMORDNA_TRYV(stage_done(fired));
      stats.timers_fired += fired;
      emit(out, stats);
      if (fired < kTimerPass) return ok();
    }
  };

  std::string line;
  size_t line_no = 0;
  while (std::getline(events, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++stats.lines;
    v1::Event event;
    if (std::string parser_message; !json_.parse(line, event, parser_message)) {
      ++stats.rejected;
      report(line_no, "", "", "malformed",
             "not a samordna.v1.Event JSON line: " + describe_json_error(line, parser_message));
      continue;
    }
    if (!event.has_occurred_at()) {
      ++stats.rejected;
      report(line_no, event.event_id(), event.episode_id(), "malformed", "occurredAt is required");
      continue;
    }
    const Instant at =
        from_proto(event.has_recorded_at() ? event.recorded_at() : event.occurred_at());
    if (!clock || at > *clock) clock = at;
    SAMORDNA_TRYV(advance(*clock));

    SAMORDNA_TRY(outcome, engine_->apply(kPartition, event, *clock, txn));
    SAMORDNA_TRYV(stage_done(1));
    switch (outcome.kind) {
      case pipeline::Outcome::Kind::kApplied:
        ++stats.applied;
        emit(outcome.notifications, stats);
        break;
      case pipeline::Outcome::Kind::kDuplicate:
        ++stats.duplicates;
        break;
      case pipeline::Outcome::Kind::kRejected:
        ++stats.rejected;
        report(line_no, event.event_id(), event.episode_id(),
               state::code_name(outcome.rejection->code), outcome.rejection->reason);
        break;
    }
  }
  if (options.until && (!clock || *options.until > *clock)) {
    SAMORDNA_TRYV(advance(*options.until));
  }
  SAMORDNA_TRYV(engine_->write(txn));
  notifications_.flush();
  return stats;
}

Result<std::optional<v1::EpisodeState>> Simulator::episode(std::string_view id) const {
  if (!engine_) return fail(Errc::kInvalidArgument, "the simulation has not run");
  return engine_->episode(0, id);
}

}  // namespace samordna::app
