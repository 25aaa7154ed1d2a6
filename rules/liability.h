#pragma once

// Betalningsansvar (5 kap. Lag 2017:612) as a pure policy. The state machine gathers the facts of
// one episode (the discharge-ready periods, the conditions of 5 kap. 3 §, the exclusions of
// 5 kap. 5 §) into LiabilityFacts and calls settle_payment_liability, which applies the model the
// rule set names. The second model, a municipality's monthly average of discharge-ready days (as
// in Västra Götaland), is an aggregate over a month: settle_payment_liability only records that
// the episode's stay counts towards it, and `samordna whatif` (engine/app/whatif.h) computes the
// month with monthly_average below, from the same facts.

#include <optional>
#include <string>
#include <vector>

#include "engine/core/time.h"
#include "rules/deadlines.h"
#include "rules/rule_set.h"
#include "samordna/v1/notification.pb.h"

namespace samordna::rules {

// One stretch of discharge-readiness: from a discharge-ready notice to the discharge or the
// revocation that ended it (event time).
struct LiabilityPeriod {
  Instant notice_sent_at;
  Instant ended_at;
};

// A time outpatient care reported its own services unavailable (5 kap. 5 §); `to` unset = still.
struct UnavailableInterval {
  Instant from;
  std::optional<Instant> to;
};

// What payment liability depends on, for one episode.
struct LiabilityFacts {
  std::string municipality;               // kommunkod of the paying municipality (5 kap. 2 §)
  bool municipal_need = false;            // a municipal service was needed (else no one is liable)
  bool declared_discharge_ready = false;  // the patient was ever declared discharge-ready
  bool admission_notice_in_time = false;  // 5 kap. 3 § 1: its deadline was met
  // 5 kap. 3 § 3: a SIP deadline of the episode was missed and the SIP condition still applies
  // (a patient who declined SIP lifts it).
  bool sip_invitation_missed = false;
  // One per discharge-ready notice sent, in order; none = 5 kap. 3 § 2 not fulfilled.
  std::vector<LiabilityPeriod> periods;
  std::vector<UnavailableInterval> outpatient_unavailable;
};

// The model a rule set names (`liability.model` in the rule file; absent = per patient).
LiabilityModel liability_model(const RuleSet& rules);

// Settles payment liability for one episode by the model the rule set names. Under
// kMonthlyAverage the episode alone owes nothing: NOT_LIABLE with the unmet condition of 5 kap.
// 3 §, or MONTHLY_AVERAGE with its periods (liable_days 0) when its stay counts in the average.
v1::PaymentLiability settle_payment_liability(const LiabilityFacts& facts, const RuleSet& rules);

// The first condition of 5 kap. 3 § (and the other reasons an episode owes nothing whatever the
// days) that the facts do not meet, in the order a coordinator checks them; nullopt when all are.
// Both models start from it: an episode that fails one neither pays per patient nor counts in a
// municipality's average.
std::optional<v1::PaymentLiability::Reason> unmet_condition(const LiabilityFacts& facts);

// One period's days as the per-patient model counts them: `samordna explain` prints the same
// values, so the two cannot drift apart.
struct PeriodDays {
  FirstLiable first;              // the first liable date, with the steps that led to it
  LocalDate end;                  // the local date the period ended (not liable)
  std::vector<LocalDate> liable;  // first .. end - 1, less the excluded; empty if end <= first
  std::vector<LocalDate>
      excluded;  // of first .. end - 1: outpatient services unavailable (5 kap. 5 §)
};
PeriodDays period_days(const LiabilityFacts& facts, const LiabilityPeriod& period,
                       const RuleSet& rules);

// The per-patient model: the conditions of 5 kap. 3 § in the order a coordinator checks them,
// then per period the liable dates from the first liable date (rules/deadlines.h) up to, not
// including, the end date, less the dates outpatient services were unavailable (5 kap. 5 §), and
// the amount at each date's yearly rate.
v1::PaymentLiability settle_per_patient(const LiabilityFacts& facts, const RuleSet& rules);

// --- The monthly-average model (rules/README.md, "Liability models") ---------------------------

// One episode's discharge-ready days as the average counts them: over its periods, the nights from
// day 0 (the notice date, or the next day when sent after the cut-off) up to, not including, the
// end date, less the dates 5 kap. 5 § excludes. A stay discharged on day 0 has 0 days and still
// counts in the average. `rules` must be a kMonthlyAverage set (grace_days 0).
int stay_days(const LiabilityFacts& facts, const RuleSet& rules);

// One municipality's month under a kMonthlyAverage set.
struct MonthlyAverage {
  int stays = 0;              // settled episodes whose stay counts, discharged in the month
  int64_t days = 0;           // the sum of their stay_days
  bool liable = false;        // days / stays > the agreed average (strictly)
  int64_t liable_tenths = 0;  // days above the average: days - average x stays, in tenths
  // liable_tenths x the daily rate of the month's year, to the nearest krona (half up); unset when
  // the set has no rate for that year (as the per-patient model, never a guessed figure).
  std::optional<int64_t> amount_sek;
};
MonthlyAverage monthly_average(const std::vector<int>& stay_days, const RuleSet& rules, int year);

}  // namespace samordna::rules
