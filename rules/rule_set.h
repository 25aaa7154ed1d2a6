#pragma once

// Rules as data: the statutory default of Lag (2017:612) and regional agreements
// (överenskommelser, 4 kap. 5 §), loaded from YAML files in a rules directory (rules/README.md
// documents the format). A rule set is selected by region, care type and the date the episode's
// clock started; the episode keeps that set for its whole life.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/calendar.h"
#include "samordna/v1/event.pb.h"
#include "samordna/v1/notification.pb.h"

namespace samordna::rules {

enum class DayCounting { kCalendar, kWorking };

// How payment liability is judged (rules/README.md, "Liability models").
enum class LiabilityModel {
  // 5 kap. 4 § or an agreement's days, cut-off and rates: each episode on its own.
  kPerPatient,
  // A municipality's monthly average of discharge-ready days (Västra Götaland): liable for the
  // days above the agreed average. An aggregate over a month, so it is computed from the settled
  // episodes' facts by `samordna whatif` (engine/app/whatif.h), not per episode.
  kMonthlyAverage,
};

// Betalningsansvar: when the municipality starts paying (5 kap. 4 §, or an agreement).
struct LiabilityRule {
  LiabilityModel model = LiabilityModel::kPerPatient;
  // kMonthlyAverage: the agreed average in tenths of a day (3.0 days = 30); the municipality is
  // liable in a month whose average is strictly above it. 0 for kPerPatient.
  int average_days_tenths = 0;
  // Days of grace after the discharge-ready notice. First liable date = day 0 + grace_days,
  // counted in calendar or working days.
  int grace_days = 3;
  DayCounting counting = DayCounting::kCalendar;
  // Day 0 is the local date the notice was sent; a notice sent after the cut-off (local time,
  // strictly later than it) has day 0 on the next calendar day (kCalendar) or the next working
  // day (kWorking).
  std::chrono::seconds cutoff = std::chrono::hours{12};
  // kMonthlyAverage sets have grace_days 0: a stay's days then count from day 0 (the notice date,
  // or the next day after the cut-off), as period_days (rules/liability.h) gives them.
  // Amount per liable day in whole kronor, by calendar year of the liable day.
  std::map<int, int64_t> daily_rate_sek;
};

struct RuleSet {
  std::string id;      // unique across the rule book, e.g. "se-statutory-2018"
  std::string title;   // e.g. "Lag (2017:612), default"
  std::string source;  // "file.yaml:line" where the set is defined
  // Its content digest (rules/digest.h), set by RuleBook: kept with each episode started under it.
  std::string digest;
  // County codes the set applies to; empty = every region (the statutory default).
  std::vector<std::string> regions;
  // The care type it applies to; unset = every care type.
  std::optional<v1::CareType> care_type;
  LocalDate valid_from;
  std::optional<LocalDate> valid_to;  // inclusive

  std::chrono::seconds admission_notice_window = std::chrono::hours{24};  // 2 kap. 3 §
  int sip_invitation_days = 3;                                            // 4 kap. 3 §
  LiabilityRule liability;
  // Reminders before a deadline: the lead time before due_at. Absent = no reminder.
  std::map<v1::DeadlineKind, std::chrono::seconds> reminder_lead;

  bool in_force_on(LocalDate d) const;
  bool applies_to(std::string_view region, v1::CareType care_type) const;
};

class RuleBook {
 public:
  RuleBook() = default;
  // Computes each set's content digest (RuleSet::digest).
  explicit RuleBook(std::vector<RuleSet> sets);

  // The set in force on `on` for the region and care type: a set naming the region beats a
  // default set; a set naming the care type beats one for every care type. nullptr if none.
  const RuleSet* select(std::string_view region, v1::CareType care_type, LocalDate on) const;
  const RuleSet* find(std::string_view id) const;
  const std::vector<RuleSet>& sets() const { return sets_; }

 private:
  std::vector<RuleSet> sets_;
};

// One problem in a rule file, located for the person fixing it.
struct RuleError {
  std::string file;  // path as given
  int line = 0;      // 1-based; 0 when the problem is the file as a whole
  std::string reason;
};

std::string to_string(const RuleError& e);  // "file:line: reason"

struct LoadedRules {
  RuleBook book;                  // meaningful only when errors is empty
  std::vector<RuleError> errors;  // every problem found, not just the first
};

// Reads every *.yaml file in dir (not recursive), validates each set and the book as a whole
// (unique ids, no two sets for the same region and care type in force on the same day).
// Every entry named *.yaml that cannot be read (a dangling or looping symlink, a FIFO, a directory,
// no permission) is an error naming it; none is opened unless it is a regular file.
LoadedRules load_rule_book(const std::filesystem::path& dir);

// One rule file's content, checked as load_rule_book checks a file (and the book it alone makes);
// errors name `file_name`. For tools and the fuzzer (tests/fuzz/).
LoadedRules load_rule_text(const std::string& text, const std::string& file_name);

}  // namespace samordna::rules
