#pragma once

// The deterministic simulator: the engine's own pipeline on a virtual clock. It reads Event JSON
// lines, moves the clock to each line's recordedAt (occurredAt when absent; the clock never goes
// back), fires the timers the clock passes, applies the event, and writes Notification JSON lines.
// Rejected lines are reported with their line number and reason; processing goes on.

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

#include "engine/core/json_codec.h"
#include "engine/core/result.h"
#include "engine/core/time.h"
#include "engine/pipeline/engine.h"
#include "rules/rule_set.h"

namespace samordna::app {

struct SimulationStats {
  size_t lines = 0;
  size_t applied = 0;
  size_t duplicates = 0;
  size_t rejected = 0;
  size_t notifications = 0;
  size_t timers_fired = 0;
};

struct SimulationOptions {
  std::optional<Instant> until;                    // fire timers up to here after the last line
  std::optional<std::filesystem::path> state_dir;  // default: in memory
};

class Simulator {
 public:
  // `notifications` receives each notification's JSON line; `rejections` each rejection's.
  Simulator(const rules::RuleBook& rules, std::ostream& notifications, std::ostream& rejections);

  Result<SimulationStats> run(std::istream& events, const SimulationOptions& options);

  // After run(): the final state of one episode (for `samordna explain`).
  Result<std::optional<v1::EpisodeState>> episode(std::string_view id) const;

 private:
  void emit(const std::vector<v1::Notification>& batch, SimulationStats& stats);
  void report(size_t line, const std::string& event_id, const std::string& episode_id,
              const std::string& code, const std::string& reason);

  const rules::RuleBook& rules_;
  std::ostream& notifications_;
  std::ostream& rejections_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<pipeline::Engine> engine_;
  JsonCodec json_;
};

}  // namespace samordna::app
