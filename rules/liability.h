#pragma once

// Betalningsansvar (5 kap. Lag 2017:612) as a pure policy. The state machine gathers the facts of
// one episode (the discharge-ready periods, the conditions of 5 kap. 3 §, the exclusions of
// 5 kap. 5 §) into LiabilityFacts and calls settle_payment_liability, which applies the model the
// rule set names. A second model (a municipality's monthly average of discharge-ready days, as in
// Västra Götaland) goes beside the per-patient one here, without touching engine/state.

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

enum class LiabilityModel {
  kPerPatient,  // 5 kap. 4 § or an agreement's days, cut-off and rates: each episode on its own
};

// The model a rule set names. Every rule set uses the per-patient model today; a rule file key
// selects another when one exists.
LiabilityModel liability_model(const RuleSet& rules);

// Settles payment liability for one episode by the model the rule set names.
v1::PaymentLiability settle_payment_liability(const LiabilityFacts& facts, const RuleSet& rules);

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

}  // namespace samordna::rules
