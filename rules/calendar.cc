#include "rules/calendar.h"

#include <date/iso_week.h>
#include <date/tz.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <exception>

#include "engine/core/check.h"

namespace samordna::rules {

namespace {

using date::days;
using date::local_days;
using date::local_seconds;
using date::sys_days;

// Writes v into out[0..width) as decimal digits, zero-padded (v < 10^width).
void put_digits(char* out, int width, unsigned v) {
  for (int i = width - 1; i >= 0; --i, v /= 10) out[i] = static_cast<char>('0' + v % 10);
}

// Looked up once; the tz database entries are immutable afterwards, so concurrent readers are safe
// (date::time_zone guards its own lazy initialisation with std::call_once).
const date::time_zone& stockholm() {
  static const date::time_zone* const kZone = [] {
    try {
      return date::locate_zone("Europe/Stockholm");
    } catch (const std::exception&) {
      // Without the zone no deadline can be computed; this is an installation fault, not input.
      SAMORDNA_CHECK(false, "the tz database has no Europe/Stockholm (install tzdata)");
    }
  }();
  return *kZone;
}

// The zone's offset at t, and the interval it holds for. Every view and every notice formats local
// times, mostly a few of them close together: the last interval found answers most (the lookup,
// a search of the zone's transitions, was 1.4 % of `run`'s main thread). One per thread; the tz
// database's answers never change, so a kept one stays right.
const date::sys_info& info_at(Instant t) {
  thread_local date::sys_info last = stockholm().get_info(t);
  if (t < last.begin || t >= last.end) last = stockholm().get_info(t);
  return last;
}

local_seconds to_local(Instant t) {
  return local_seconds{t.time_since_epoch() + info_at(t).offset};
}

// --- Holidays --------------------------------------------------------------------------------

// Easter Sunday by the anonymous Gregorian algorithm (Meeus/Jones/Butcher): the Sunday after the
// ecclesiastical full moon on or after 21 March, which is how Lag (1989:253) 2 § defines påskdagen.
LocalDate easter_sunday(int y) {
  const int a = y % 19;
  const int b = y / 100;
  const int c = y % 100;
  const int d = b / 4;
  const int e = b % 4;
  const int f = (b + 8) / 25;
  const int g = (b - f + 1) / 3;
  const int h = (19 * a + b - d - g + 15) % 30;
  const int i = c / 4;
  const int k = c % 4;
  const int l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int m = (a + 11 * h + 22 * l) / 451;
  const int month = (h + l - 7 * m + 114) / 31;
  const int day = ((h + l - 7 * m + 114) % 31) + 1;
  return LocalDate{date::year{y}, date::month{static_cast<unsigned>(month)},
                   date::day{static_cast<unsigned>(day)}};
}

LocalDate plus(LocalDate d, int n) { return LocalDate{sys_days{d} + days{n}}; }

LocalDate ymd(int y, unsigned m, unsigned d) {
  return LocalDate{date::year{y}, date::month{m}, date::day{d}};
}

// The Saturday in [first, first + 6].
LocalDate saturday_from(LocalDate first) {
  const sys_days start{first};
  const date::weekday wd{start};
  return LocalDate{start + (date::Saturday - wd)};
}

std::vector<Holiday> compute_holidays(int y) {
  const LocalDate easter = easter_sunday(y);
  const LocalDate midsommardagen = saturday_from(ymd(y, 6, 20));
  std::vector<Holiday> out = {
      // Lag (1989:253) 1-2 §§, as amended by SFS 2004:1320 (nationaldagen, no annandag pingst).
      {ymd(y, 1, 1), "Nyårsdagen", false},
      {ymd(y, 1, 6), "Trettondedag jul", false},
      {plus(easter, -2), "Långfredagen", false},
      {easter, "Påskdagen", false},
      {plus(easter, 1), "Annandag påsk", false},
      {ymd(y, 5, 1), "Första maj", false},
      {plus(easter, 39), "Kristi himmelsfärdsdag", false},  // sixth Thursday after Easter
      {plus(easter, 49), "Pingstdagen", false},             // seventh Sunday after Easter
      {ymd(y, 6, 6), "Nationaldagen", false},
      {midsommardagen, "Midsommardagen", false},
      {saturday_from(ymd(y, 10, 31)), "Alla helgons dag", false},
      {ymd(y, 12, 25), "Juldagen", false},
      {ymd(y, 12, 26), "Annandag jul", false},
      // Not in the law, but treated as non-working days everywhere (and in the agreements).
      {plus(midsommardagen, -1), "Midsommarafton", true},
      {ymd(y, 12, 24), "Julafton", true},
      {ymd(y, 12, 31), "Nyårsafton", true},
  };
  // Stable: two holidays on one date (Kristi himmelsfärdsdag on första maj, as in 2008) keep the
  // order above.
  std::stable_sort(out.begin(), out.end(),
                   [](const Holiday& l, const Holiday& r) { return l.date < r.date; });
  return out;
}

constexpr int kFirstCachedYear = 1900;
constexpr int kLastCachedYear = 2199;
using HolidayTable = std::array<std::vector<Holiday>, kLastCachedYear - kFirstCachedYear + 1>;

// Computed once on first use (thread-safe static initialisation), read-only afterwards.
const HolidayTable& holiday_table() {
  static const HolidayTable kTable = [] {
    HolidayTable t;
    for (int y = kFirstCachedYear; y <= kLastCachedYear; ++y) {
      t[static_cast<size_t>(y - kFirstCachedYear)] = compute_holidays(y);
    }
    return t;
  }();
  return kTable;
}

// True if a holiday on date d satisfies pred.
template <class Pred>
bool any_holiday_on(LocalDate d, Pred pred) {
  const int y = static_cast<int>(d.year());
  auto match = [&](const std::vector<Holiday>& hs) {
    return std::any_of(hs.begin(), hs.end(),
                       [&](const Holiday& h) { return h.date == d && pred(h); });
  };
  if (y >= kFirstCachedYear && y <= kLastCachedYear) {
    return match(holiday_table()[static_cast<size_t>(y - kFirstCachedYear)]);
  }
  return match(compute_holidays(y));
}

}  // namespace

// --- Europe/Stockholm -------------------------------------------------------------------------

LocalDate local_date(Instant t) { return LocalDate{date::floor<days>(to_local(t))}; }

std::chrono::seconds local_time_of_day(Instant t) {
  const local_seconds lt = to_local(t);
  return lt - date::floor<days>(lt);
}

Instant start_of_local_day(LocalDate d) {
  // Swedish DST changes happen at 02:00/03:00, so local midnight always exists; `earliest` makes
  // the function total anyway (a skipped midnight would map to the end of the gap).
  return stockholm().to_sys(local_seconds{local_days{d}}, date::choose::earliest);
}

Instant end_of_local_day(LocalDate d) {
  // The second before the next local midnight: right on 23- and 25-hour days alike.
  return start_of_local_day(plus(d, 1)) - std::chrono::seconds{1};
}

std::string format_local(Instant t) {
  const date::sys_info& info = info_at(t);
  const local_seconds lt{t.time_since_epoch() + info.offset};
  const auto day = date::floor<days>(lt);
  const date::hh_mm_ss<std::chrono::seconds> tod{lt - day};
  // Offsets are whole minutes and under a day; ints keep the formatting obviously in range.
  const int offset_min = static_cast<int>(info.offset.count() / 60) % (24 * 60);
  const int abs_min = offset_min < 0 ? -offset_min : offset_min;
  // Digit by digit, as format_date: snprintf was most of the time of a notice's due_local.
  char buf[] = "T00:00:00+00:00";
  put_digits(buf + 1, 2, static_cast<unsigned>(tod.hours().count()));
  put_digits(buf + 4, 2, static_cast<unsigned>(tod.minutes().count()));
  put_digits(buf + 7, 2, static_cast<unsigned>(tod.seconds().count()));
  buf[9] = offset_min < 0 ? '-' : '+';
  put_digits(buf + 10, 2, static_cast<unsigned>(abs_min / 60));
  put_digits(buf + 13, 2, static_cast<unsigned>(abs_min % 60));
  return format_date(LocalDate{day}) + buf;
}

std::string format_date(LocalDate d) {
  const int year = static_cast<int>(d.year());
  if (year < 0 || year > 9999) {  // outside ISO 8601's four digits: as printf would write it
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", year, static_cast<unsigned>(d.month()),
                  static_cast<unsigned>(d.day()));
    return buf;
  }
  char buf[] = "0000-00-00";
  put_digits(buf, 4, static_cast<unsigned>(year));
  put_digits(buf + 5, 2, static_cast<unsigned>(d.month()));
  put_digits(buf + 8, 2, static_cast<unsigned>(d.day()));
  return std::string(buf, 10);
}

std::string format_iso_week(LocalDate d) {
  const iso_week::year_weeknum_weekday w{date::sys_days{d}};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-W%02u", static_cast<int>(w.year()),
                static_cast<unsigned>(w.weeknum()));
  return buf;
}

Result<LocalDate> parse_date(std::string_view text) {
  auto digit = [&](size_t i) { return text[i] >= '0' && text[i] <= '9'; };
  auto number = [&](size_t from, size_t len) {
    int v = 0;
    for (size_t i = from; i < from + len; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  bool shape = text.size() == 10 && text[4] == '-' && text[7] == '-';
  for (size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u}) shape = shape && digit(i);
  if (!shape) return fail(Errc::kInvalidArgument, "expected YYYY-MM-DD");
  const LocalDate d =
      ymd(number(0, 4), static_cast<unsigned>(number(5, 2)), static_cast<unsigned>(number(8, 2)));
  if (!d.ok()) return fail(Errc::kInvalidArgument, "no such calendar date (YYYY-MM-DD)");
  return d;
}

// --- Holidays and working days ----------------------------------------------------------------

std::vector<Holiday> swedish_holidays(int year) {
  if (year >= kFirstCachedYear && year <= kLastCachedYear) {
    return holiday_table()[static_cast<size_t>(year - kFirstCachedYear)];
  }
  return compute_holidays(year);
}

bool is_public_holiday(LocalDate d) {
  return any_holiday_on(d, [](const Holiday& h) { return !h.de_facto; });
}

bool is_de_facto_holiday(LocalDate d) {
  return any_holiday_on(d, [](const Holiday& h) { return h.de_facto; });
}

bool is_working_day(LocalDate d) {
  const date::weekday wd{sys_days{d}};
  if (wd == date::Saturday || wd == date::Sunday) return false;
  return !any_holiday_on(d, [](const Holiday&) { return true; });
}

LocalDate next_working_day(LocalDate d) {
  // Terminates within a week: the longest run of non-working days is five (24-28 December).
  do {
    d = plus(d, 1);
  } while (!is_working_day(d));
  return d;
}

LocalDate add_calendar_days(LocalDate d, int n) { return plus(d, n); }

LocalDate add_working_days(LocalDate d, int n) {
  SAMORDNA_CHECK(n >= 0, "add_working_days counts forward only");
  for (int i = 0; i < n; ++i) d = next_working_day(d);
  return d;
}

int nights_between(LocalDate first, LocalDate end) {
  const auto n = (sys_days{end} - sys_days{first}).count();
  return n > 0 ? static_cast<int>(n) : 0;
}

}  // namespace samordna::rules
