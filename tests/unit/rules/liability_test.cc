#include "rules/liability.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tests/unit/rules/test_util.h"

namespace samordna::rules {
namespace {

using testing::at;
using PL = v1::PaymentLiability;

RuleSet statutory() {
  RuleSet set;
  set.id = "test-statutory";
  set.valid_from = date::year{2018} / 1 / 1;
  set.liability.daily_rate_sek = {{2019, 7800}, {2020, 8200}, {2022, 9300}};
  return set;
}

// Every condition of 5 kap. 3 § met, one period: notice 2022-03-03 10:59:59 local (before the
// 12:00 cut-off: first liable date 6 March), discharged 10 March.
LiabilityFacts liable() {
  LiabilityFacts f;
  f.municipality = "0380";
  f.municipal_need = true;
  f.declared_discharge_ready = true;
  f.admission_notice_in_time = true;
  f.periods = {{at("2022-03-03T10:59:59+01:00"), at("2022-03-10T10:00:00+01:00")}};
  return f;
}

struct Case {
  std::string name;
  LiabilityFacts facts;
  PL::Status status;
  PL::Reason reason;
  int liable_days;
  std::optional<int64_t> amount;
  std::string first_liable_date;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  auto add = [&](std::string name, LiabilityFacts f, PL::Status status, PL::Reason reason, int days,
                 std::optional<int64_t> amount, std::string first) {
    out.push_back({std::move(name), std::move(f), status, reason, days, amount, std::move(first)});
  };
  add("liable: 6, 7, 8, 9 March at 9 300 kr", liable(), PL::LIABLE, PL::REASON_UNSPECIFIED, 4,
      4 * 9300, "2022-03-06");
  {
    auto f = liable();
    f.periods[0].notice_sent_at = at("2022-03-03T12:00:01+01:00");  // after the cut-off: +4
    add("notice after noon", f, PL::LIABLE, PL::REASON_UNSPECIFIED, 3, 3 * 9300, "2022-03-07");
  }
  {
    auto f = liable();
    f.municipal_need = false;
    f.declared_discharge_ready = false;
    f.admission_notice_in_time = false;
    f.periods.clear();
    f.sip_invitation_missed = true;
    add("no municipal need is checked first", f, PL::NOT_LIABLE, PL::NO_MUNICIPAL_NEEDS, 0,
        std::nullopt, "");
  }
  {
    auto f = liable();
    f.declared_discharge_ready = false;
    add("never discharge-ready", f, PL::NOT_LIABLE, PL::NEVER_DISCHARGE_READY, 0, std::nullopt, "");
  }
  {
    auto f = liable();
    f.admission_notice_in_time = false;
    f.sip_invitation_missed = true;
    add("5 kap. 3 § 1 before 3 § 3", f, PL::NOT_LIABLE, PL::ADMISSION_NOTICE_NOT_IN_TIME, 0,
        std::nullopt, "");
  }
  {
    auto f = liable();
    f.periods.clear();
    add("5 kap. 3 § 2: no notice sent", f, PL::NOT_LIABLE, PL::DISCHARGE_READY_NOTICE_NOT_SENT, 0,
        std::nullopt, "");
  }
  {
    auto f = liable();
    f.sip_invitation_missed = true;
    add("5 kap. 3 § 3: SIP missed", f, PL::NOT_LIABLE, PL::SIP_INVITATION_NOT_IN_TIME, 0,
        std::nullopt, "");
  }
  {
    auto f = liable();
    f.outpatient_unavailable = {{at("2022-03-07T13:00:00+01:00"), at("2022-03-08T13:00:00+01:00")}};
    add("5 kap. 5 §: 7 and 8 March excluded", f, PL::LIABLE, PL::REASON_UNSPECIFIED, 2, 2 * 9300,
        "2022-03-06");
  }
  {
    auto f = liable();
    f.outpatient_unavailable = {{at("2022-03-01T00:00:00+01:00"), std::nullopt}};
    add("5 kap. 5 §: every day excluded", f, PL::NOT_LIABLE, PL::OUTPATIENT_SERVICES_UNAVAILABLE, 0,
        std::nullopt, "");
  }
  {
    auto f = liable();
    f.periods[0].ended_at = at("2022-03-06T09:00:00+01:00");  // discharged on the first date
    add("discharged on the first liable date", f, PL::NOT_LIABLE, PL::NO_LIABLE_DAYS, 0,
        std::nullopt, "");
  }
  {
    auto f = liable();
    // Revoked before day 3, declared again: 11, 12, 13 March in the second period.
    f.periods = {{at("2022-03-03T09:00:00+01:00"), at("2022-03-04T09:00:00+01:00")},
                 {at("2022-03-08T09:00:00+01:00"), at("2022-03-14T10:00:00+01:00")}};
    add("two periods", f, PL::LIABLE, PL::REASON_UNSPECIFIED, 3, 3 * 9300, "2022-03-11");
  }
  {
    auto f = liable();
    // 2019-12-30 .. 2020-01-01 liable: one 2019 rate, two 2020 rates; 2021 has none.
    f.periods = {{at("2019-12-27T09:00:00+01:00"), at("2020-01-02T09:00:00+01:00")}};
    add("rates of two years", f, PL::LIABLE, PL::REASON_UNSPECIFIED, 3, 2 * 7800 + 8200,
        "2019-12-30");
    f.periods = {{at("2020-12-28T09:00:00+01:00"), at("2021-01-03T09:00:00+01:00")}};
    add("a year without a rate drops the amount", f, PL::LIABLE, PL::REASON_UNSPECIFIED, 3,
        std::nullopt, "2020-12-31");
  }
  return out;
}

TEST(RulesLiability, PerPatientModelTable) {
  const RuleSet set = statutory();
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    const PL pl = settle_payment_liability(c.facts, set);
    EXPECT_EQ(pl.municipality(), "0380");
    EXPECT_EQ(pl.rule_set(), "test-statutory");
    EXPECT_EQ(pl.status(), c.status);
    EXPECT_EQ(pl.reason(), c.reason);
    EXPECT_EQ(pl.liable_days(), c.liable_days);
    EXPECT_EQ(pl.has_amount_sek(), c.amount.has_value());
    if (c.amount) {
      EXPECT_EQ(pl.amount_sek(), *c.amount);
    }
    EXPECT_EQ(pl.first_liable_date(), c.first_liable_date);
  }
}

TEST(RulesLiability, PeriodsCarryTheirDatesAndExclusions) {
  auto f = liable();
  f.outpatient_unavailable = {{at("2022-03-07T13:00:00+01:00"), at("2022-03-08T13:00:00+01:00")}};
  const PL pl = settle_payment_liability(f, statutory());
  ASSERT_EQ(pl.periods_size(), 1);
  EXPECT_EQ(pl.periods(0).first_liable_date(), "2022-03-06");
  EXPECT_EQ(pl.periods(0).end_date(), "2022-03-10");
  EXPECT_EQ(pl.periods(0).liable_days(), 2);
  EXPECT_EQ(pl.periods(0).excluded_days(), 2);
  // A 5 kap. 3 § reason carries no periods.
  f.sip_invitation_missed = true;
  EXPECT_EQ(settle_payment_liability(f, statutory()).periods_size(), 0);
}

TEST(RulesLiability, TheRuleSetNamesTheModel) {
  EXPECT_EQ(liability_model(statutory()), LiabilityModel::kPerPatient);
  RuleSet monthly = statutory();
  monthly.liability.model = LiabilityModel::kMonthlyAverage;
  EXPECT_EQ(liability_model(monthly), LiabilityModel::kMonthlyAverage);
}

// --- The monthly-average model ------------------------------------------------------------------

// An agreed average of 3.0 days, no cut-off (24:00), the national rates: as the loader makes a
// monthly_average set (grace_days 0).
RuleSet monthly(int average_tenths = 30) {
  RuleSet set = statutory();
  set.id = "test-monthly";
  set.liability.model = LiabilityModel::kMonthlyAverage;
  set.liability.average_days_tenths = average_tenths;
  set.liability.grace_days = 0;
  set.liability.cutoff = std::chrono::hours{24};
  return set;
}

TEST(RulesLiability, MonthlyAverageByHand) {
  // Three stays of 2, 5 and 4 days: 11 days / 3 stays = 3.67 > 3.0: liable for the days above
  // the average, 11 - 3.0 x 3 = 2 days, x 7 800 kr (2019) = 15 600 kr.
  MonthlyAverage m = monthly_average({2, 5, 4}, monthly(), 2019);
  EXPECT_EQ(m.stays, 3);
  EXPECT_EQ(m.days, 11);
  EXPECT_TRUE(m.liable);
  EXPECT_EQ(m.liable_tenths, 20);
  EXPECT_EQ(m.amount_sek, std::optional<int64_t>(15600));
  // 3, 3, 3: the average is 3.0, not above it: nothing (strictly above, as the agreement says
  // "överskridit").
  m = monthly_average({3, 3, 3}, monthly(), 2019);
  EXPECT_FALSE(m.liable);
  EXPECT_EQ(m.liable_tenths, 0);
  EXPECT_FALSE(m.amount_sek.has_value());
  // A stay discharged on day 0 counts with 0 days and pulls the average down: 0 + 7 = 7 / 2 =
  // 3.5 > 3.0 -> 7 - 6 = 1 day; 0 + 6 = 6 / 2 = 3.0 -> nothing.
  EXPECT_EQ(monthly_average({0, 7}, monthly(), 2019).liable_tenths, 10);
  EXPECT_FALSE(monthly_average({0, 6}, monthly(), 2019).liable);
  // An average of 2.5: one stay of 3 days is 0.5 day above it: 0.5 x 9 300 (2022) = 4 650 kr.
  m = monthly_average({3}, monthly(25), 2022);
  EXPECT_EQ(m.liable_tenths, 5);
  EXPECT_EQ(m.amount_sek, std::optional<int64_t>(4650));
  // Half a day at an odd rate rounds half up: 0.5 x 7 801 = 3 900.5 -> 3 901.
  RuleSet odd = monthly(25);
  odd.liability.daily_rate_sek[2019] = 7801;
  EXPECT_EQ(monthly_average({3}, odd, 2019).amount_sek, std::optional<int64_t>(3901));
  // No rate for 2021: liable, without an amount.
  m = monthly_average({9}, monthly(), 2021);
  EXPECT_TRUE(m.liable);
  EXPECT_EQ(m.liable_tenths, 60);
  EXPECT_FALSE(m.amount_sek.has_value());
  // No stays: nothing, and no division by zero.
  EXPECT_FALSE(monthly_average({}, monthly(), 2019).liable);
}

TEST(RulesLiability, StayDaysCountFromDayZero) {
  LiabilityFacts f = liable();
  // Notice Thursday 2022-03-03 10:59:59, discharged 2022-03-10: day 0 is 03-03, nights 3..9 = 7.
  EXPECT_EQ(stay_days(f, monthly()), 7);
  // After a 12:00 cut-off, a notice at 12:00:01 has day 0 on the next day: 6.
  RuleSet noon = monthly();
  noon.liability.cutoff = std::chrono::hours{12};
  f.periods[0].notice_sent_at = at("2022-03-03T12:00:01+01:00");
  EXPECT_EQ(stay_days(f, noon), 6);
  // Two periods (a revocation between) add up; 5 kap. 5 § days are left out: 03-03..03-05 is 3
  // nights, 03-08..03-10 is 2, less 03-09 (unavailable) = 4.
  f = liable();
  f.periods = {{at("2022-03-03T09:00:00+01:00"), at("2022-03-06T09:00:00+01:00")},
               {at("2022-03-08T09:00:00+01:00"), at("2022-03-10T09:00:00+01:00")}};
  f.outpatient_unavailable = {{at("2022-03-09T10:00:00+01:00"), at("2022-03-09T11:00:00+01:00")}};
  EXPECT_EQ(stay_days(f, monthly()), 4);
  // Discharged on day 0: 0 days.
  f = liable();
  f.periods = {{at("2022-03-03T09:00:00+01:00"), at("2022-03-03T16:00:00+01:00")}};
  EXPECT_EQ(stay_days(f, monthly()), 0);
}

TEST(RulesLiability, AnEpisodeUnderTheMonthlyModelOwesNothingAlone) {
  auto f = liable();
  PL pl = settle_payment_liability(f, monthly());
  EXPECT_EQ(pl.status(), PL::NOT_LIABLE);
  EXPECT_EQ(pl.reason(), PL::MONTHLY_AVERAGE);
  EXPECT_EQ(pl.rule_set(), "test-monthly");
  EXPECT_EQ(pl.liable_days(), 0);
  EXPECT_FALSE(pl.has_amount_sek());
  ASSERT_EQ(pl.periods_size(), 1);
  EXPECT_EQ(pl.periods(0).end_date(), "2022-03-10");
  EXPECT_EQ(pl.periods(0).liable_days(), 0);
  // The conditions of 5 kap. 3 § apply as per patient: the stay then does not count.
  f.admission_notice_in_time = false;
  pl = settle_payment_liability(f, monthly());
  EXPECT_EQ(pl.reason(), PL::ADMISSION_NOTICE_NOT_IN_TIME);
  EXPECT_EQ(unmet_condition(f), std::optional<PL::Reason>(PL::ADMISSION_NOTICE_NOT_IN_TIME));
  EXPECT_EQ(unmet_condition(liable()), std::nullopt);
}

}  // namespace
}  // namespace samordna::rules
