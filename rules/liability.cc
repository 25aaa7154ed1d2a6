#include "rules/liability.h"

#include <algorithm>
#include <cstdint>

#include "rules/deadlines.h"

namespace samordna::rules {
namespace {

// A date counts as unavailable if outpatient services were reported unavailable at any moment
// of it (5 kap. 5 §).
bool unavailable_on(const LiabilityFacts& facts, LocalDate day) {
  const Instant start = start_of_local_day(day);
  const Instant end = end_of_local_day(day);
  return std::any_of(
      facts.outpatient_unavailable.begin(), facts.outpatient_unavailable.end(),
      [&](const UnavailableInterval& i) { return i.from <= end && (!i.to || *i.to > start); });
}

}  // namespace

PeriodDays period_days(const LiabilityFacts& facts, const LiabilityPeriod& period,
                       const RuleSet& set) {
  PeriodDays out;
  out.first = first_liable_date(period.notice_sent_at, set.liability);
  out.end = local_date(period.ended_at);
  for (auto day = date::sys_days{out.first.date}; day < date::sys_days{out.end};
       day += date::days{1}) {
    (unavailable_on(facts, day) ? out.excluded : out.liable).push_back(LocalDate{day});
  }
  return out;
}

LiabilityModel liability_model(const RuleSet& rules) { return rules.liability.model; }

v1::PaymentLiability settle_payment_liability(const LiabilityFacts& facts, const RuleSet& rules) {
  switch (liability_model(rules)) {
    case LiabilityModel::kPerPatient:
      return settle_per_patient(facts, rules);
    case LiabilityModel::kMonthlyAverage:
      break;
  }
  using PL = v1::PaymentLiability;
  PL pl;
  pl.set_municipality(facts.municipality);
  pl.set_rule_set(rules.id);
  pl.set_status(PL::NOT_LIABLE);
  if (const auto reason = unmet_condition(facts)) {
    pl.set_reason(*reason);
    return pl;
  }
  pl.set_reason(PL::MONTHLY_AVERAGE);
  for (const auto& period : facts.periods) {
    const PeriodDays days = period_days(facts, period, rules);
    auto* p = pl.add_periods();
    *p->mutable_notice_sent_at() = to_proto(period.notice_sent_at);
    p->set_end_date(format_date(days.end));
    p->set_excluded_days(static_cast<int>(days.excluded.size()));
  }
  return pl;
}

std::optional<v1::PaymentLiability::Reason> unmet_condition(const LiabilityFacts& facts) {
  using PL = v1::PaymentLiability;
  if (!facts.municipal_need) return PL::NO_MUNICIPAL_NEEDS;
  if (!facts.declared_discharge_ready) return PL::NEVER_DISCHARGE_READY;
  if (!facts.admission_notice_in_time) return PL::ADMISSION_NOTICE_NOT_IN_TIME;
  if (facts.periods.empty()) return PL::DISCHARGE_READY_NOTICE_NOT_SENT;
  if (facts.sip_invitation_missed) return PL::SIP_INVITATION_NOT_IN_TIME;
  return std::nullopt;
}

int stay_days(const LiabilityFacts& facts, const RuleSet& rules) {
  int days = 0;
  for (const auto& period : facts.periods) {
    days += static_cast<int>(period_days(facts, period, rules).liable.size());
  }
  return days;
}

MonthlyAverage monthly_average(const std::vector<int>& stay_days, const RuleSet& rules, int year) {
  MonthlyAverage m;
  m.stays = static_cast<int>(stay_days.size());
  for (const int d : stay_days) m.days += d;
  // days / stays > average  <=>  10 x days > average_tenths x stays: whole numbers, no rounding.
  const int64_t allowed_tenths = int64_t{rules.liability.average_days_tenths} * m.stays;
  m.liable = m.stays > 0 && m.days * 10 > allowed_tenths;
  if (!m.liable) return m;
  m.liable_tenths = m.days * 10 - allowed_tenths;
  const auto rate = rules.liability.daily_rate_sek.find(year);
  if (rate != rules.liability.daily_rate_sek.end()) {
    m.amount_sek = (m.liable_tenths * rate->second + 5) / 10;
  }
  return m;
}

v1::PaymentLiability settle_per_patient(const LiabilityFacts& facts, const RuleSet& set) {
  using PL = v1::PaymentLiability;
  PL pl;
  pl.set_municipality(facts.municipality);
  pl.set_rule_set(set.id);
  pl.set_status(PL::NOT_LIABLE);

  // The conditions of 5 kap. 3 §, in the order a coordinator would check them.
  if (const auto reason = unmet_condition(facts)) {
    pl.set_reason(*reason);
    return pl;
  }

  int total = 0;
  int excluded_total = 0;
  std::optional<int64_t> amount = 0;
  for (const auto& period : facts.periods) {
    const PeriodDays days = period_days(facts, period, set);
    const int liable = static_cast<int>(days.liable.size());
    const int excluded = static_cast<int>(days.excluded.size());
    for (const LocalDate day : days.liable) {
      const auto rate = daily_rate(set.liability, day);
      amount = (amount && rate) ? std::optional<int64_t>(*amount + *rate) : std::nullopt;
    }
    auto* p = pl.add_periods();
    *p->mutable_notice_sent_at() = to_proto(period.notice_sent_at);
    p->set_first_liable_date(format_date(days.first.date));
    p->set_end_date(format_date(days.end));
    p->set_liable_days(liable);
    p->set_excluded_days(excluded);
    if (liable > 0 && pl.first_liable_date().empty()) {
      pl.set_first_liable_date(format_date(days.first.date));
    }
    total += liable;
    excluded_total += excluded;
  }
  pl.set_liable_days(total);
  if (total == 0) {
    pl.set_reason(excluded_total > 0 ? PL::OUTPATIENT_SERVICES_UNAVAILABLE : PL::NO_LIABLE_DAYS);
    return pl;
  }
  pl.set_status(PL::LIABLE);
  if (amount) pl.set_amount_sek(*amount);
  return pl;
}

}  // namespace samordna::rules
