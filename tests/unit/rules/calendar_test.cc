#include "rules/calendar.h"

#include <date/tz.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/rules/test_util.h"

namespace samordna::rules {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::at;
using testing::day;

// The date of the named holiday in a year, or an invalid date if absent.
LocalDate holiday(int year, const std::string& name) {
  for (const Holiday& h : swedish_holidays(year)) {
    if (h.name == name) return h.date;
  }
  return LocalDate{};
}

// --- Local time ------------------------------------------------------------------------------

TEST(RulesCalendar, LocalDateAndTimeOfDayInWinterAndSummer) {
  EXPECT_EQ(local_date(at("2025-03-03T11:00:01Z")), day("2025-03-03"));
  EXPECT_EQ(local_time_of_day(at("2025-03-03T11:00:01Z")), seconds{12 * 3600 + 1});
  EXPECT_EQ(local_time_of_day(at("2025-07-01T10:00:00Z")), hours{12});
  EXPECT_EQ(format_local(at("2025-07-01T10:00:00Z")), "2025-07-01T12:00:00+02:00");
}

TEST(RulesCalendar, IsoWeeksAsSwedishWeekNumbersAreCounted) {
  // Week 1 holds the year's first Thursday; weeks start on Monday.
  EXPECT_EQ(format_iso_week(date::year{2025} / 12 / 28), "2025-W52");  // a Sunday
  EXPECT_EQ(format_iso_week(date::year{2025} / 12 / 29), "2026-W01");  // Monday of week 1
  EXPECT_EQ(format_iso_week(date::year{2026} / 1 / 1), "2026-W01");
  EXPECT_EQ(format_iso_week(date::year{2021} / 1 / 3), "2020-W53");  // 2020 had 53 weeks
  EXPECT_EQ(format_iso_week(date::year{2026} / 12 / 31), "2026-W53");
  EXPECT_EQ(format_iso_week(date::year{2027} / 1 / 4), "2027-W01");
  EXPECT_EQ(format_iso_week(date::year{2025} / 3 / 31), "2025-W14");
}

TEST(RulesCalendar, NewYearIsLocalNotUtc) {
  EXPECT_EQ(local_date(at("2024-12-31T22:59:59Z")), day("2024-12-31"));
  EXPECT_EQ(local_date(at("2024-12-31T23:00:00Z")), day("2025-01-01"));
  EXPECT_EQ(format_local(at("2024-12-31T23:00:00Z")), "2025-01-01T00:00:00+01:00");
  EXPECT_EQ(format_local(end_of_local_day(day("2024-12-31"))), "2024-12-31T23:59:59+01:00");
  EXPECT_EQ(format_utc(end_of_local_day(day("2024-12-31"))), "2024-12-31T22:59:59Z");
}

TEST(RulesCalendar, SpringForwardNight) {
  // 2025-03-30: clocks go from 02:00 CET straight to 03:00 CEST.
  EXPECT_EQ(format_local(at("2025-03-30T00:59:59Z")), "2025-03-30T01:59:59+01:00");
  EXPECT_EQ(format_local(at("2025-03-30T01:00:00Z")), "2025-03-30T03:00:00+02:00");
  EXPECT_EQ(local_time_of_day(at("2025-03-30T01:00:00Z")), hours{3});
  EXPECT_EQ(format_utc(start_of_local_day(day("2025-03-30"))), "2025-03-29T23:00:00Z");
  EXPECT_EQ(format_utc(end_of_local_day(day("2025-03-30"))), "2025-03-30T21:59:59Z");
  EXPECT_EQ(format_local(end_of_local_day(day("2025-03-30"))), "2025-03-30T23:59:59+02:00");
  // A 23-hour day.
  EXPECT_EQ(end_of_local_day(day("2025-03-30")) - start_of_local_day(day("2025-03-30")),
            hours{23} - seconds{1});
}

TEST(RulesCalendar, FallBackNight) {
  // 2025-10-26: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
  EXPECT_EQ(format_local(at("2025-10-26T00:30:00Z")), "2025-10-26T02:30:00+02:00");
  EXPECT_EQ(format_local(at("2025-10-26T01:30:00Z")), "2025-10-26T02:30:00+01:00");
  EXPECT_EQ(local_time_of_day(at("2025-10-26T00:30:00Z")),
            local_time_of_day(at("2025-10-26T01:30:00Z")));
  EXPECT_EQ(format_utc(start_of_local_day(day("2025-10-26"))), "2025-10-25T22:00:00Z");
  EXPECT_EQ(format_utc(end_of_local_day(day("2025-10-26"))), "2025-10-26T22:59:59Z");
  EXPECT_EQ(format_local(end_of_local_day(day("2025-10-26"))), "2025-10-26T23:59:59+01:00");
  EXPECT_EQ(format_local(end_of_local_day(day("2025-10-25"))), "2025-10-25T23:59:59+02:00");
  // A 25-hour day.
  EXPECT_EQ(end_of_local_day(day("2025-10-26")) - start_of_local_day(day("2025-10-26")),
            hours{25} - seconds{1});
}

// Local dates and times as the tz library gives them for each instant, over both DST changes of two
// years, every 7 minutes and a second either side of each change, in an order that jumps back and
// forth (calendar.cc keeps the last offset interval it found).
TEST(RulesCalendar, LocalTimesAreTheTzLibrarysAcrossTheChangesInAnyOrder) {
  const date::time_zone* zone = date::locate_zone("Europe/Stockholm");
  std::vector<Instant> instants;
  for (Instant t = at("2024-01-01T00:00:00Z"); t < at("2026-01-01T00:00:00Z"); t += minutes(7)) {
    instants.push_back(t);
  }
  for (const char* change : {"2024-03-31T01:00:00Z", "2024-10-27T01:00:00Z", "2025-03-30T01:00:00Z",
                             "2025-10-26T01:00:00Z"}) {
    for (int d = -2; d <= 1; ++d) instants.push_back(at(change) + seconds(d));
  }
  std::vector<Instant> order;
  for (size_t i = 0; i < instants.size(); ++i) {
    order.push_back(instants[(i * 7919) % instants.size()]);  // 7919 is prime: every one, jumbled
    order.push_back(instants[i]);
  }
  size_t summer = 0;
  for (const Instant t : order) {
    const auto info = zone->get_info(t);
    const auto lt = date::local_seconds{t.time_since_epoch() + info.offset};
    const auto day = date::floor<date::days>(lt);
    const date::hh_mm_ss<seconds> tod{lt - day};
    char want[40];
    std::snprintf(want, sizeof want, "%s%c%02d:%02d:%02d%c%02d:00",
                  format_date(LocalDate{day}).c_str(), 'T', static_cast<int>(tod.hours().count()),
                  static_cast<int>(tod.minutes().count()), static_cast<int>(tod.seconds().count()),
                  '+', static_cast<int>(info.offset.count() / 3600));
    ASSERT_EQ(format_local(t), want);
    ASSERT_EQ(local_date(t), LocalDate{day});
    summer += info.offset == hours(2) ? 1 : 0;
  }
  EXPECT_GT(summer, 0u);
  EXPECT_LT(summer, order.size());
}

TEST(RulesCalendar, FormatLocalExample) {
  EXPECT_EQ(format_local(end_of_local_day(day("2025-03-04"))), "2025-03-04T23:59:59+01:00");
  EXPECT_EQ(format_local(start_of_local_day(day("2025-03-04"))), "2025-03-04T00:00:00+01:00");
}

TEST(RulesCalendar, FormatAndParseDate) {
  EXPECT_EQ(format_date(day("2025-03-04")), "2025-03-04");
  EXPECT_EQ(format_date(LocalDate{date::year{987}, date::month{1}, date::day{2}}), "0987-01-02");
  ASSERT_TRUE(parse_date("2024-02-29"));
  EXPECT_EQ(parse_date("2024-02-29").value(),
            (LocalDate{date::year{2024}, date::February, date::day{29}}));
  for (const char* bad : {"2025-02-30", "2025-02-29", "2025-13-01", "2025-00-10", "2025-01-00",
                          "2025-1-01", "2025-01-1", "2025/01/01", "20250101", " 2025-01-01",
                          "2025-01-01 ", "2025-01-01T00:00", "", "abcd-ef-gh", "+202-01-01"}) {
    EXPECT_FALSE(parse_date(bad)) << bad;
  }
}

// --- Holidays --------------------------------------------------------------------------------

TEST(RulesCalendar, EasterAndItsHolidays) {
  struct Case {
    int year;
    const char* good_friday;
    const char* easter;
    const char* easter_monday;
    const char* ascension;
    const char* pentecost;
  };
  for (const Case& c :
       {Case{2024, "2024-03-29", "2024-03-31", "2024-04-01", "2024-05-09", "2024-05-19"},
        Case{2025, "2025-04-18", "2025-04-20", "2025-04-21", "2025-05-29", "2025-06-08"},
        Case{2026, "2026-04-03", "2026-04-05", "2026-04-06", "2026-05-14", "2026-05-24"}}) {
    EXPECT_EQ(holiday(c.year, "Långfredagen"), day(c.good_friday)) << c.year;
    EXPECT_EQ(holiday(c.year, "Påskdagen"), day(c.easter)) << c.year;
    EXPECT_EQ(holiday(c.year, "Annandag påsk"), day(c.easter_monday)) << c.year;
    EXPECT_EQ(holiday(c.year, "Kristi himmelsfärdsdag"), day(c.ascension)) << c.year;
    EXPECT_EQ(holiday(c.year, "Pingstdagen"), day(c.pentecost)) << c.year;
  }
}

TEST(RulesCalendar, EasterExtremesAndYearsOutsideTheCache) {
  EXPECT_EQ(holiday(2008, "Påskdagen"), day("2008-03-23"));
  EXPECT_EQ(holiday(2038, "Påskdagen"), day("2038-04-25"));  // latest possible
  EXPECT_EQ(holiday(1818, "Påskdagen"), day("1818-03-22"));  // earliest possible, computed
  EXPECT_EQ(holiday(2285, "Påskdagen"), day("2285-03-22"));  // beyond the cached years
  EXPECT_TRUE(is_public_holiday(day("2285-03-23")));         // annandag påsk
}

TEST(RulesCalendar, TwoHolidaysOnOneDate) {
  // 2008: Kristi himmelsfärdsdag fell on första maj; both are listed.
  int on_may_first = 0;
  for (const Holiday& h : swedish_holidays(2008)) on_may_first += h.date == day("2008-05-01");
  EXPECT_EQ(on_may_first, 2);
}

TEST(RulesCalendar, MidsummerAndAllSaints) {
  EXPECT_EQ(holiday(2024, "Midsommarafton"), day("2024-06-21"));
  EXPECT_EQ(holiday(2024, "Midsommardagen"), day("2024-06-22"));
  EXPECT_EQ(holiday(2026, "Midsommardagen"), day("2026-06-20"));  // earliest: 20 June
  EXPECT_EQ(holiday(2026, "Midsommarafton"), day("2026-06-19"));  // so afton is 19 June
  EXPECT_EQ(holiday(2027, "Midsommardagen"), day("2027-06-26"));  // latest: 26 June
  EXPECT_EQ(holiday(2026, "Alla helgons dag"), day("2026-10-31"));
  EXPECT_EQ(holiday(2027, "Alla helgons dag"), day("2027-11-06"));
}

TEST(RulesCalendar, HolidayListIsSortedAndComplete) {
  const auto hs = swedish_holidays(2025);
  ASSERT_EQ(hs.size(), 16u);  // 13 public (Lag 1989:253) + 3 de facto
  int de_facto = 0;
  for (size_t i = 0; i < hs.size(); ++i) {
    de_facto += hs[i].de_facto;
    if (i > 0) {
      EXPECT_LE(hs[i - 1].date, hs[i].date);
    }
  }
  EXPECT_EQ(de_facto, 3);
  EXPECT_EQ(hs.front().name, "Nyårsdagen");
  EXPECT_EQ(hs.back().name, "Nyårsafton");
}

TEST(RulesCalendar, PublicVersusDeFactoVersusSunday) {
  EXPECT_TRUE(is_public_holiday(day("2025-12-25")));
  EXPECT_FALSE(is_de_facto_holiday(day("2025-12-25")));
  EXPECT_TRUE(is_de_facto_holiday(day("2025-12-24")));
  EXPECT_FALSE(is_public_holiday(day("2025-12-24")));
  EXPECT_TRUE(is_de_facto_holiday(day("2025-06-20")));  // midsommarafton
  EXPECT_FALSE(is_public_holiday(day("2025-03-02")));   // an ordinary Sunday
  EXPECT_FALSE(is_public_holiday(day("2025-04-19")));   // påskafton: neither
  EXPECT_FALSE(is_de_facto_holiday(day("2025-04-19")));
}

// --- Working days ----------------------------------------------------------------------------

TEST(RulesCalendar, WorkingDays) {
  EXPECT_TRUE(is_working_day(day("2025-03-03")));   // Monday
  EXPECT_TRUE(is_working_day(day("2025-03-07")));   // Friday
  EXPECT_FALSE(is_working_day(day("2025-03-08")));  // Saturday
  EXPECT_FALSE(is_working_day(day("2025-03-09")));  // Sunday
  EXPECT_FALSE(is_working_day(day("2025-04-18")));  // långfredagen
  EXPECT_FALSE(is_working_day(day("2025-04-21")));  // annandag påsk
  EXPECT_TRUE(is_working_day(day("2025-04-22")));
  EXPECT_FALSE(is_working_day(day("2025-05-01")));  // första maj, a Thursday
  EXPECT_FALSE(is_working_day(day("2025-05-29")));  // Kristi himmelsfärdsdag
  EXPECT_TRUE(is_working_day(day("2025-05-30")));   // the "klämdag" after it is a working day
  EXPECT_FALSE(is_working_day(day("2025-06-06")));  // nationaldagen, a Friday
  EXPECT_FALSE(is_working_day(day("2025-06-20")));  // midsommarafton
  EXPECT_FALSE(is_working_day(day("2025-12-24")));
  EXPECT_FALSE(is_working_day(day("2025-12-31")));
  EXPECT_FALSE(is_working_day(day("2026-01-01")));
  EXPECT_TRUE(is_working_day(day("2026-01-02")));
  EXPECT_FALSE(is_working_day(day("2026-01-06")));  // trettondedag jul, a Tuesday
}

TEST(RulesCalendar, NextWorkingDayAcrossEasterAndChristmas) {
  EXPECT_EQ(next_working_day(day("2025-03-03")), day("2025-03-04"));
  EXPECT_EQ(next_working_day(day("2025-03-07")), day("2025-03-10"));  // over a weekend
  EXPECT_EQ(next_working_day(day("2025-04-17")), day("2025-04-22"));  // over Easter
  EXPECT_EQ(next_working_day(day("2025-04-19")), day("2025-04-22"));  // from a non-working day
  EXPECT_EQ(next_working_day(day("2025-12-23")), day("2025-12-29"));
  EXPECT_EQ(next_working_day(day("2025-12-30")), day("2026-01-02"));
  EXPECT_EQ(next_working_day(day("2025-06-19")), day("2025-06-23"));  // over midsommar
}

TEST(RulesCalendar, AddWorkingDays) {
  EXPECT_EQ(add_working_days(day("2025-03-03"), 0), day("2025-03-03"));
  EXPECT_EQ(add_working_days(day("2025-03-08"), 0), day("2025-03-08"));  // n = 0: unchanged
  EXPECT_EQ(add_working_days(day("2025-03-03"), 3), day("2025-03-06"));
  EXPECT_EQ(add_working_days(day("2025-03-06"), 3), day("2025-03-11"));
  EXPECT_EQ(add_working_days(day("2025-04-17"), 1), day("2025-04-22"));
  EXPECT_EQ(add_working_days(day("2025-04-17"), 3), day("2025-04-24"));
  EXPECT_EQ(add_working_days(day("2024-03-28"), 3), day("2024-04-04"));  // Easter 2024
  EXPECT_EQ(add_working_days(day("2025-12-22"), 3), day("2025-12-30"));
  EXPECT_EQ(add_working_days(day("2025-12-23"), 3), day("2026-01-02"));
  EXPECT_EQ(add_working_days(day("2026-12-23"), 3), day("2026-12-30"));
  EXPECT_EQ(add_working_days(day("2025-12-30"), 2), day("2026-01-05"));
}

TEST(RulesCalendar, AddCalendarDaysAndNights) {
  EXPECT_EQ(add_calendar_days(day("2025-12-30"), 3), day("2026-01-02"));
  EXPECT_EQ(add_calendar_days(day("2024-02-28"), 1), day("2024-02-29"));
  EXPECT_EQ(add_calendar_days(day("2025-03-01"), -1), day("2025-02-28"));
  EXPECT_EQ(add_calendar_days(day("2025-03-28"), 3), day("2025-03-31"));  // across DST: still days
  EXPECT_EQ(nights_between(day("2025-03-07"), day("2025-03-07")), 0);
  EXPECT_EQ(nights_between(day("2025-03-07"), day("2025-03-10")), 3);
  EXPECT_EQ(nights_between(day("2025-03-10"), day("2025-03-07")), 0);
  EXPECT_EQ(nights_between(day("2025-03-29"), day("2025-04-01")), 3);  // a 23-hour day inside
  EXPECT_EQ(nights_between(day("2025-12-31"), day("2026-01-02")), 2);
}

// Readers on several threads share the lazily built holiday table and tz data. A smoke test here;
// the dev preset's sanitizers are what would catch a race.
TEST(RulesCalendar, ConcurrentReadersAgree) {
  auto count = [] {
    int n = 0;
    for (int y = 1990; y <= 2100; ++y) {
      for (const Holiday& h : swedish_holidays(y)) n += is_working_day(next_working_day(h.date));
      n += local_date(end_of_local_day(LocalDate{date::year{y} / 3 / date::last})).day() ==
           date::day{31};
    }
    return n;
  };
  std::vector<int> results(4, 0);
  std::vector<std::thread> threads;
  for (int& r : results) threads.emplace_back([&r, &count] { r = count(); });
  for (std::thread& t : threads) t.join();
  const int expected = 111 * 17;  // every next working day is one, and 31 March exists
  for (int r : results) EXPECT_EQ(r, expected);
}

}  // namespace
}  // namespace samordna::rules
