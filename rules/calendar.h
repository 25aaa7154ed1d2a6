#pragma once

// The Swedish calendar: Europe/Stockholm local time (with daylight saving), public holidays under
// Lag (1989:253) om allmänna helgdagar, and the de facto holidays midsommarafton, julafton and
// nyårsafton. Pure functions: no clock reads, no I/O beyond the system tz database.

#include <date/date.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.h"
#include "engine/core/time.h"

namespace samordna::rules {

using LocalDate = date::year_month_day;

// --- Europe/Stockholm -------------------------------------------------------------------------

LocalDate local_date(Instant t);
// Seconds since local midnight (wall clock), e.g. 12:00:01 -> 43201.
std::chrono::seconds local_time_of_day(Instant t);
// The first second of a local day (00:00:00) and the last one (23:59:59), across DST changes.
Instant start_of_local_day(LocalDate d);
Instant end_of_local_day(LocalDate d);
// RFC 3339 with the local offset, e.g. "2025-03-04T23:59:59+01:00".
std::string format_local(Instant t);

std::string format_date(LocalDate d);  // "2025-03-04"
// The ISO 8601 week of a local date, as Swedish week numbers are counted (weeks start on Monday;
// week 1 holds the year's first Thursday): "2026-W01" for 2025-12-29, "2020-W53" for 2021-01-03.
std::string format_iso_week(LocalDate d);
Result<LocalDate> parse_date(std::string_view text);

// --- Holidays and working days ----------------------------------------------------------------

struct Holiday {
  LocalDate date;
  std::string name;  // Swedish name, e.g. "Långfredagen"
  bool de_facto;     // midsommarafton, julafton, nyårsafton: not in the law, but no one works
};

// Every public and de facto holiday of a year, sorted by date. Computed (Easter by the Gregorian
// computus), not looked up, so it is valid for any year.
std::vector<Holiday> swedish_holidays(int year);

bool is_public_holiday(LocalDate d);  // Sundays are not counted here, only named holidays
bool is_de_facto_holiday(LocalDate d);
// Monday to Friday and neither a public nor a de facto holiday (vardag).
bool is_working_day(LocalDate d);
// The first working day strictly after d.
LocalDate next_working_day(LocalDate d);
// d plus n days, counted in calendar days or in working days (n >= 0). Adding n working days
// steps n times to the next working day.
LocalDate add_calendar_days(LocalDate d, int n);
LocalDate add_working_days(LocalDate d, int n);
// Nights from first up to, not including, end: 0 when end <= first.
int nights_between(LocalDate first, LocalDate end);

}  // namespace samordna::rules
