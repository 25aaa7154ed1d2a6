#include "rules/deadlines.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/unit/rules/test_util.h"

namespace samordna::rules {
namespace {

using testing::at;
using testing::day;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The liability rules of the shipped rule sets, built by hand so these tests need no files.
LiabilityRule statutory() {
  LiabilityRule r;
  r.grace_days = 3;
  r.counting = DayCounting::kCalendar;
  r.cutoff = std::chrono::hours{12};
  r.daily_rate_sek = {{2019, 7800}, {2020, 8200}, {2022, 9300}};
  return r;
}

LiabilityRule stockholm_psychiatric() {
  LiabilityRule r = statutory();
  r.grace_days = 5;
  return r;
}

LiabilityRule psychiatric_2018() {
  LiabilityRule r = statutory();
  r.grace_days = 30;
  return r;
}

LiabilityRule working_days_1400() {
  LiabilityRule r = statutory();
  r.counting = DayCounting::kWorking;
  r.cutoff = std::chrono::hours{14};
  return r;
}

RuleSet rule_set() {
  RuleSet s;
  s.id = "test-set";
  s.source = "test.yaml:2";
  s.valid_from = day("2018-01-01");
  s.liability = statutory();
  return s;
}

LocalDate first(const char* sent, const LiabilityRule& rule) {
  return first_liable_date(at(sent), rule).date;
}

// --- Admission notice: 24 h elapsed ----------------------------------------------------------

TEST(RulesDeadlines, AdmissionNoticeIs24HoursAfterAdmission) {
  const DueAt d = admission_notice_due(at("2025-03-03T09:15:00+01:00"),
                                       at("2025-03-03T09:15:00+01:00"), rule_set());
  EXPECT_EQ(format_local(d.due), "2025-03-04T09:15:00+01:00");
  EXPECT_THAT(d.steps, ElementsAre("rule set test-set (test.yaml:2)",
                                   "anchor 2025-03-03T09:15:00+01:00 (admission)",
                                   "due = anchor + 24 h elapsed time = 2025-03-04T09:15:00+01:00"));
}

TEST(RulesDeadlines, AdmissionNoticeAnchorsOnALaterAssessment) {
  const DueAt d = admission_notice_due(at("2025-03-03T08:00:00+01:00"),
                                       at("2025-03-03T15:30:00+01:00"), rule_set());
  EXPECT_EQ(format_local(d.due), "2025-03-04T15:30:00+01:00");
  EXPECT_THAT(d.steps[1], HasSubstr("assessment"));
  // An assessment before admission does not move the anchor back.
  const DueAt e = admission_notice_due(at("2025-03-03T08:00:00+01:00"),
                                       at("2025-03-02T08:00:00+01:00"), rule_set());
  EXPECT_EQ(format_local(e.due), "2025-03-04T08:00:00+01:00");
}

TEST(RulesDeadlines, AdmissionNoticeAcrossDstIsElapsedTime) {
  // Spring forward: 24 h later the wall clock shows an hour more.
  const DueAt spring = admission_notice_due(at("2025-03-29T10:00:00+01:00"),
                                            at("2025-03-29T10:00:00+01:00"), rule_set());
  EXPECT_EQ(format_local(spring.due), "2025-03-30T11:00:00+02:00");
  // Fall back: an hour less.
  const DueAt fall = admission_notice_due(at("2025-10-25T10:00:00+02:00"),
                                          at("2025-10-25T10:00:00+02:00"), rule_set());
  EXPECT_EQ(format_local(fall.due), "2025-10-26T09:00:00+01:00");
  EXPECT_EQ(fall.due - at("2025-10-25T10:00:00+02:00"), std::chrono::hours{24});
}

// The engine asks without the steps: the same due time, no text. Across both DST changes and a
// year end, so a skipped branch that computed anything differently would show.
TEST(RulesDeadlines, SkippedStepsGiveTheSameDueTimesAndNoText) {
  for (const char* t :
       {"2025-03-29T23:30:00+01:00", "2025-03-30T02:30:00+02:00", "2025-10-26T02:30:00+01:00",
        "2025-12-31T23:59:59+01:00", "2026-06-15T12:00:00+02:00"}) {
    SCOPED_TRACE(t);
    const Instant i = at(t);
    const DueAt a = admission_notice_due(i, i + std::chrono::hours{3}, rule_set());
    const DueAt a0 =
        admission_notice_due(i, i + std::chrono::hours{3}, rule_set(), Steps::kSkipped);
    EXPECT_EQ(a0.due, a.due);
    EXPECT_TRUE(a0.steps.empty());
    EXPECT_FALSE(a.steps.empty());
    const DueAt x = information_transfer_due(i);
    const DueAt x0 = information_transfer_due(i, Steps::kSkipped);
    EXPECT_EQ(x0.due, x.due);
    EXPECT_TRUE(x0.steps.empty());
    const DueAt p = sip_invitation_due(i, rule_set());
    const DueAt p0 = sip_invitation_due(i, rule_set(), {}, Steps::kSkipped);
    EXPECT_EQ(p0.due, p.due);
    EXPECT_TRUE(p0.steps.empty());
  }
}

// --- Information transfer: end of the discharge date -----------------------------------------

TEST(RulesDeadlines, InformationTransferIsEndOfTheLocalDischargeDate) {
  EXPECT_EQ(format_local(information_transfer_due(at("2025-03-04T10:00:00+01:00")).due),
            "2025-03-04T23:59:59+01:00");
  // 00:10 local is still the previous day in UTC; the local date counts.
  EXPECT_EQ(format_local(information_transfer_due(at("2025-03-03T23:10:00Z")).due),
            "2025-03-04T23:59:59+01:00");
  EXPECT_EQ(format_local(information_transfer_due(at("2025-03-30T10:00:00+02:00")).due),
            "2025-03-30T23:59:59+02:00");
  EXPECT_EQ(format_local(information_transfer_due(at("2025-10-26T23:30:00+01:00")).due),
            "2025-10-26T23:59:59+01:00");
  EXPECT_THAT(
      information_transfer_due(at("2025-03-04T10:00:00+01:00")).steps,
      ElementsAre("discharged 2025-03-04T10:00:00+01:00",
                  "due = end of the discharge date 2025-03-04 = 2025-03-04T23:59:59+01:00"));
}

// --- SIP invitation: end of D + 3 ------------------------------------------------------------

TEST(RulesDeadlines, SipInvitationIsEndOfDayDPlus3) {
  const DueAt d = sip_invitation_due(at("2025-03-03T16:45:00+01:00"), rule_set());
  EXPECT_EQ(format_local(d.due), "2025-03-06T23:59:59+01:00");
  EXPECT_THAT(d.steps,
              ElementsAre("rule set test-set (test.yaml:2)",
                          "discharge-ready notice sent 2025-03-03T16:45:00+01:00: D = 2025-03-03",
                          "due = end of D + 3 calendar days = 2025-03-06T23:59:59+01:00"));
}

TEST(RulesDeadlines, SipInvitationAcrossDst) {
  EXPECT_EQ(format_local(sip_invitation_due(at("2025-03-28T15:00:00+01:00"), rule_set()).due),
            "2025-03-31T23:59:59+02:00");
  EXPECT_EQ(format_utc(sip_invitation_due(at("2025-03-28T15:00:00+01:00"), rule_set()).due),
            "2025-03-31T21:59:59Z");
  EXPECT_EQ(format_local(sip_invitation_due(at("2025-10-24T09:00:00+02:00"), rule_set()).due),
            "2025-10-27T23:59:59+01:00");
}

TEST(RulesDeadlines, SipInvitationUsesTheLocalSendingDate) {
  EXPECT_EQ(format_local(sip_invitation_due(at("2025-03-03T23:30:00+01:00"), rule_set()).due),
            "2025-03-06T23:59:59+01:00");
  // 2025-03-03T23:10Z is 00:10 on 4 March in Stockholm.
  EXPECT_EQ(format_local(sip_invitation_due(at("2025-03-03T23:10:00Z"), rule_set()).due),
            "2025-03-07T23:59:59+01:00");
}

// --- First liable date -----------------------------------------------------------------------

TEST(RulesDeadlines, StatutoryCutoffAtNoon) {
  EXPECT_EQ(first("2025-03-03T11:59:00+01:00", statutory()), day("2025-03-06"));
  EXPECT_EQ(first("2025-03-03T11:59:59+01:00", statutory()), day("2025-03-06"));
  EXPECT_EQ(first("2025-03-03T12:00:00+01:00", statutory()), day("2025-03-06"));
  EXPECT_EQ(first("2025-03-03T12:00:01+01:00", statutory()), day("2025-03-07"));
  EXPECT_EQ(first("2025-03-03T12:01:00+01:00", statutory()), day("2025-03-07"));
  EXPECT_EQ(first("2025-03-03T00:00:00+01:00", statutory()), day("2025-03-06"));
  EXPECT_EQ(first("2025-03-03T23:59:59+01:00", statutory()), day("2025-03-07"));
}

TEST(RulesDeadlines, StatutoryStepsExplainTheCutoff) {
  EXPECT_THAT(first_liable_date(at("2025-03-03T12:00:01+01:00"), statutory()).steps,
              ElementsAre("notice sent 2025-03-03T12:00:01+01:00 (after cut-off 12:00): "
                          "day 0 = 2025-03-04",
                          "first liable date = day 0 + 3 calendar days = 2025-03-07"));
  EXPECT_THAT(first_liable_date(at("2025-03-03T12:00:00+01:00"), statutory()).steps,
              ElementsAre("notice sent 2025-03-03T12:00:00+01:00 (at or before cut-off 12:00): "
                          "day 0 = 2025-03-03",
                          "first liable date = day 0 + 3 calendar days = 2025-03-06"));
}

TEST(RulesDeadlines, StatutoryCountsCalendarDaysThroughWeekendsAndHolidays) {
  EXPECT_EQ(first("2025-03-07T10:00:00+01:00", statutory()), day("2025-03-10"));
  EXPECT_EQ(first("2025-04-17T10:00:00+02:00", statutory()), day("2025-04-20"));  // påskdagen
  EXPECT_EQ(first("2025-12-30T13:00:00+01:00", statutory()), day("2026-01-03"));
}

TEST(RulesDeadlines, CutoffIsLocalWallClockAcrossDst) {
  // Summer time: 12:00:01 local is 10:00:01 UTC.
  EXPECT_EQ(first("2025-07-01T10:00:00Z", statutory()), day("2025-07-04"));
  EXPECT_EQ(first("2025-07-01T10:00:01Z", statutory()), day("2025-07-05"));
  // On the spring-forward day itself.
  EXPECT_EQ(first("2025-03-30T12:00:00+02:00", statutory()), day("2025-04-02"));
  EXPECT_EQ(first("2025-03-30T12:00:01+02:00", statutory()), day("2025-04-03"));
}

TEST(RulesDeadlines, StockholmSomaticDays012) {
  // Sent 09:00 on Monday: day 0 Monday, days 1 and 2 Tuesday and Wednesday, liable Thursday.
  EXPECT_EQ(first("2025-03-03T09:00:00+01:00", statutory()), day("2025-03-06"));
  EXPECT_EQ(first("2025-03-03T13:00:00+01:00", statutory()), day("2025-03-07"));
}

TEST(RulesDeadlines, StockholmPsychiatricFiveDays) {
  EXPECT_EQ(first("2025-03-03T09:00:00+01:00", stockholm_psychiatric()), day("2025-03-08"));
  EXPECT_EQ(first("2025-03-03T12:30:00+01:00", stockholm_psychiatric()), day("2025-03-09"));
}

TEST(RulesDeadlines, Psychiatric2018ThirtyDays) {
  EXPECT_EQ(first("2018-06-01T10:00:00+02:00", psychiatric_2018()), day("2018-07-01"));
  EXPECT_EQ(first("2018-12-20T15:00:00+01:00", psychiatric_2018()), day("2019-01-20"));
}

TEST(RulesDeadlines, WorkingDaysWithFourteenOClockCutoff) {
  const LiabilityRule r = working_days_1400();
  EXPECT_EQ(first("2025-03-03T13:59:00+01:00", r), day("2025-03-06"));
  EXPECT_EQ(first("2025-03-03T14:00:00+01:00", r), day("2025-03-06"));
  EXPECT_EQ(first("2025-03-03T14:00:01+01:00", r), day("2025-03-07"));
  EXPECT_EQ(first("2025-03-03T14:01:00+01:00", r), day("2025-03-07"));
  // Thursday 13:00 over a weekend.
  EXPECT_EQ(first("2025-03-06T13:00:00+01:00", r), day("2025-03-11"));
}

TEST(RulesDeadlines, WorkingDaysAcrossEaster) {
  const LiabilityRule r = working_days_1400();
  // Skärtorsdagen before 14:00: day 0 Thursday, then Tue 22, Wed 23, Thu 24 April.
  EXPECT_EQ(first("2025-04-17T13:59:00+02:00", r), day("2025-04-24"));
  // After 14:00: day 0 is Tuesday 22 April.
  EXPECT_EQ(first("2025-04-17T14:01:00+02:00", r), day("2025-04-25"));
  // On långfredagen and påskafton: day 0 is the next working day, too.
  EXPECT_EQ(first("2025-04-18T09:00:00+02:00", r), day("2025-04-25"));
  EXPECT_EQ(first("2025-04-19T09:00:00+02:00", r), day("2025-04-25"));
  EXPECT_EQ(first("2024-03-28T10:00:00+01:00", r), day("2024-04-04"));
}

TEST(RulesDeadlines, WorkingDaysAcrossChristmasAndNewYear) {
  const LiabilityRule r = working_days_1400();
  EXPECT_EQ(first("2025-12-22T10:00:00+01:00", r), day("2025-12-30"));
  EXPECT_EQ(first("2025-12-23T10:00:00+01:00", r), day("2026-01-02"));
  EXPECT_EQ(first("2025-12-23T15:00:00+01:00", r), day("2026-01-05"));
  EXPECT_EQ(first("2025-12-24T09:00:00+01:00", r), day("2026-01-05"));  // julafton
  EXPECT_EQ(first("2025-12-31T09:00:00+01:00", r), day("2026-01-08"));  // nyårsafton; 6 Jan too
}

TEST(RulesDeadlines, WorkingDaysMidsummerAndDst) {
  const LiabilityRule r = working_days_1400();
  EXPECT_EQ(first("2025-06-19T15:00:00+02:00", r), day("2025-06-26"));
  EXPECT_EQ(first("2025-03-28T14:30:00+01:00", r), day("2025-04-03"));
}

TEST(RulesDeadlines, WorkingDayStepsNameWhyDayZeroMoved) {
  EXPECT_THAT(first_liable_date(at("2025-12-24T09:00:00+01:00"), working_days_1400()).steps,
              ElementsAre("notice sent 2025-12-24T09:00:00+01:00 on a non-working day "
                          "(Julafton): day 0 = next working day 2025-12-29 (5 non-working days "
                          "skipped: 2025-12-24 Julafton, 2025-12-25 Juldagen, 2025-12-26 Annandag "
                          "jul, 2025-12-27 Saturday, 2025-12-28 Sunday)",
                          "first liable date = day 0 + 3 working days = 2026-01-05 "
                          "(4 non-working days skipped: 2025-12-31 Nyårsafton, 2026-01-01 "
                          "Nyårsdagen, 2026-01-03 Saturday, 2026-01-04 Sunday)"));
  EXPECT_THAT(first_liable_date(at("2025-03-08T09:00:00+01:00"), working_days_1400()).steps[0],
              HasSubstr("non-working day (Saturday): day 0 = next working day 2025-03-10"));
  EXPECT_THAT(first_liable_date(at("2025-03-03T14:01:00+01:00"), working_days_1400()).steps,
              ElementsAre("notice sent 2025-03-03T14:01:00+01:00 (after cut-off 14:00): "
                          "day 0 = next working day 2025-03-04 (0 non-working days skipped)",
                          "first liable date = day 0 + 3 working days = 2025-03-07 "
                          "(0 non-working days skipped)"));
  // After the cut-off on a Friday: the weekend passed on the way to day 0 is counted and named.
  EXPECT_THAT(first_liable_date(at("2025-03-07T15:00:00+01:00"), working_days_1400()).steps[0],
              HasSubstr("day 0 = next working day 2025-03-10 (2 non-working days skipped: "
                        "2025-03-08 Saturday, 2025-03-09 Sunday)"));
}

TEST(RulesDeadlines, LatenessIsElapsedTimeAcrossDst) {
  EXPECT_EQ(late_by(at("2025-03-03T10:00:00+01:00"), at("2025-03-03T11:12:00+01:00")),
            "1 h 12 min late");
  EXPECT_EQ(late_by(at("2025-03-03T10:00:00+01:00"), at("2025-03-03T10:00:00+01:00")), "on time");
  EXPECT_EQ(late_by(at("2025-03-03T10:00:00+01:00"), at("2025-03-05T10:00:01+01:00")),
            "2 d 1 s late");
  // Spring forward: 01:30 CET to 03:42 CEST is 1 h 12 min of elapsed time (2 h 12 min on the
  // wall clock).
  EXPECT_EQ(late_by(at("2025-03-30T01:30:00+01:00"), at("2025-03-30T03:42:00+02:00")),
            "1 h 12 min late");
  // Fall back: 02:30 CEST to 02:42 CET is 1 h 12 min elapsed (12 min on the wall clock).
  EXPECT_EQ(late_by(at("2025-10-26T02:30:00+02:00"), at("2025-10-26T02:42:00+01:00")),
            "1 h 12 min late");
}

// The pinned day-0 rule keeps the result monotonic: a later notice never gives an earlier date.
TEST(RulesDeadlines, LaterNoticeNeverGivesAnEarlierLiableDate) {
  for (const LiabilityRule& rule : {statutory(), stockholm_psychiatric(), working_days_1400()}) {
    for (const char* start : {"2025-04-10T00:00:00Z", "2025-12-15T00:00:00Z",
                              "2025-06-15T00:00:00Z", "2025-03-25T00:00:00Z"}) {
      Instant t = at(start);
      LocalDate previous = first_liable_date(t, rule).date;
      for (int i = 0; i < 30 * 24 * 4; ++i) {
        t += std::chrono::minutes{15};
        const LocalDate now = first_liable_date(t, rule).date;
        ASSERT_LE(previous, now) << format_local(t);
        previous = now;
      }
    }
  }
}

TEST(RulesDeadlines, NoCutoffAtTwentyFourHundred) {
  LiabilityRule r = statutory();
  r.cutoff = std::chrono::hours{24};
  EXPECT_EQ(first("2025-03-03T23:59:59+01:00", r), day("2025-03-06"));
}

TEST(RulesDeadlines, ZeroGraceDays) {
  LiabilityRule r = working_days_1400();
  r.grace_days = 0;
  EXPECT_EQ(first("2025-03-08T09:00:00+01:00", r), day("2025-03-10"));  // day 0 itself
}

// --- Daily rates -----------------------------------------------------------------------------

TEST(RulesDeadlines, DailyRateByYearOfTheLiableDate) {
  EXPECT_EQ(daily_rate(statutory(), day("2019-12-31")), 7800);
  EXPECT_EQ(daily_rate(statutory(), day("2020-01-01")), 8200);
  EXPECT_EQ(daily_rate(statutory(), day("2022-06-30")), 9300);
  EXPECT_EQ(daily_rate(statutory(), day("2021-05-01")), std::nullopt);
  EXPECT_EQ(daily_rate(statutory(), day("2018-05-01")), std::nullopt);
  EXPECT_EQ(daily_rate(statutory(), day("2025-05-01")), std::nullopt);
  EXPECT_EQ(daily_rate(LiabilityRule{}, day("2020-01-01")), std::nullopt);
}

}  // namespace
}  // namespace samordna::rules
