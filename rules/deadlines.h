#pragma once

// Deadline arithmetic: the one place where due times and liable dates are computed. Every function
// returns the result with the steps that led to it, so `samordna explain` can show a coordinator
// why. Pure: same arguments, same result.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/calendar.h"
#include "rules/rule_set.h"

namespace samordna::rules {

// Whether a function writes its steps out: `explain` wants them; the engine, stepping an episode,
// wants the result only. The arithmetic is the same code either way; only the text is skipped
// (formatting it was a tenth of the engine's time per event).
enum class Steps { kWritten, kSkipped };

struct DueAt {
  Instant due;                     // the last second still on time
  std::vector<std::string> steps;  // e.g. "anchor 2025-03-03T09:15:00+01:00 (assessment)"
};

// 2 kap. 3 §: max(admitted_at, assessed_at) + the window (24 h elapsed time, not wall clock).
DueAt admission_notice_due(Instant admitted_at, Instant assessed_at, const RuleSet& rules,
                           Steps steps = Steps::kWritten);
// 3 kap. 2 §: 23:59:59 local time on the date of discharge.
DueAt information_transfer_due(Instant discharged_at, Steps steps = Steps::kWritten);
// 4 kap. 3 §: 23:59:59 local time on day D + sip_invitation_days, D = date the notice was sent.
// `anchor_text` names the anchor: the notice, or the patient's SIP consent when it came after the
// notice (the days then run from the consent; ../shared/domain.md "Consent and secrecy").
DueAt sip_invitation_due(Instant notice_sent_at, const RuleSet& rules,
                         std::string_view anchor_text = "discharge-ready notice sent",
                         Steps steps = Steps::kWritten);

struct FirstLiable {
  LocalDate date;
  std::vector<std::string> steps;
};

// 5 kap. 4 § or the agreement: the first local date the municipality pays for.
FirstLiable first_liable_date(Instant notice_sent_at, const LiabilityRule& rule);

// How late an action at `done` was for a deadline whose last second on time is `due`, in elapsed
// time: "1 h 12 min late", "2 d 3 s late"; "on time" when done <= due.
std::string late_by(Instant due, Instant done);

// The daily rate for a liable date, if the rules give one for its year.
std::optional<int64_t> daily_rate(const LiabilityRule& rule, LocalDate d);

}  // namespace samordna::rules
