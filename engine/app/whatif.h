#pragma once

// `samordna whatif`: the same history replayed under two rule books, compared per municipality
// and month (Europe/Stockholm): liable days, amounts and missed deadlines under each, and the
// difference. Each replay is the simulator with a temporary store; the figures come from the final
// state of every episode, through the same rule functions the engine settles with
// (rules/liability.h), so a per-patient month adds up to the episodes' own settlements. The
// monthly-average model is an aggregate over a month and exists only here (rules/README.md,
// "Liability models").
//
// Tally and compare are pure (no I/O, no clock); run_whatif does the I/O and runs the two replays
// on two threads, one Simulator each (a Simulator is used by one thread at a time).

#include <atomic>
#include <compare>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/app/simulator.h"
#include "engine/core/result.h"
#include "engine/core/time.h"
#include "rules/rule_set.h"
#include "samordna/v1/storage.pb.h"

namespace samordna::app::whatif {

// The part of the history reported: a fact counts when its instant is in [from, until). The
// instant of a liable date is its local midnight; of a monthly-average stay, its discharge; of a
// missed deadline, its due_at. Unset ends are open.
struct Range {
  std::optional<Instant> from;
  std::optional<Instant> until;
  bool contains(Instant t) const { return (!from || t >= *from) && (!until || t < *until); }
};

// One municipality's month under one rule book.
struct Figures {
  int64_t liable_tenths = 0;    // liable days in tenths (a monthly average can leave half days)
  int64_t amount_sek = 0;       // of the liable days that have a daily rate
  bool amount_complete = true;  // false: some liable day's year has no rate in the rules
  int missed = 0;               // deadlines missed, by the month of their due_at
  std::map<int, int> missed_by_kind;  // v1::DeadlineKind -> count
  int stays = 0;                      // monthly-average sets: stays counted in the average
  int64_t stay_days = 0;              // and their discharge-ready days
};

struct Key {
  std::string municipality;  // kommunkod
  std::string month;         // YYYY-MM, local
  auto operator<=>(const Key&) const = default;
};

using FigureSheet = std::map<Key, Figures>;

// Collects the figures of one replay, episode by episode, from their final states.
class Tally {
 public:
  Tally(const rules::RuleBook& book, Range range) : book_(book), range_(range) {}

  void add(const storage::v1::EpisodeState& episode);
  // Computes the monthly averages and returns every municipality's months.
  FigureSheet finish() const;

  int episodes() const { return episodes_; }
  int settled() const { return settled_; }

 private:
  struct AverageKey {
    std::string municipality;
    std::string month;
    std::string rule_set;
    auto operator<=>(const AverageKey&) const = default;
  };

  const rules::RuleBook& book_;
  Range range_;
  FigureSheet sheet_;
  std::map<AverageKey, std::vector<int>> averages_;  // stay days per municipality, month, set
  int episodes_ = 0;
  int settled_ = 0;
};

struct Row {
  Key key;
  Figures a;
  Figures b;
};
// Every key of either sheet, in (municipality, month) order; a key one side lacks has zeros there.
std::vector<Row> compare(const FigureSheet& a, const FigureSheet& b);

struct Labels {
  std::string a;  // the rules directories, as given
  std::string b;
  Range range;
};

// The comparison as a table for a terminal, as CSV, and as JSON (formats: README, "whatif").
std::string format_table(const std::vector<Row>& rows, const Labels& labels);
std::string format_csv(const std::vector<Row>& rows);
std::string format_json(const std::vector<Row>& rows, const Labels& labels);

// --- The replays -------------------------------------------------------------------------------

struct Side {
  FigureSheet sheet;
  SimulationStats stats;
  int episodes = 0;
  int settled = 0;
};

struct Progress {
  std::atomic<uint64_t> bytes_read{0};  // of the events file, by this replay
  std::atomic<bool> done{false};
};

// Replays `events` under `book` with a temporary store (removed at the end) and tallies it.
// Notifications are not kept; rejected lines are counted in stats.
Result<Side> replay(const std::filesystem::path& events, const rules::RuleBook& book,
                    const Range& range, std::optional<Instant> until, Progress& progress);

}  // namespace samordna::app::whatif
