#include "rules/deadlines.h"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace samordna::rules {

namespace {

std::string rule_set_text(const RuleSet& rules) {
  return "rule set " + rules.id + (rules.source.empty() ? "" : " (" + rules.source + ")");
}

// "12:00", "14:00", "12:00:30"; "24:00" is the no-cut-off value.
std::string clock_text(std::chrono::seconds s) {
  const auto total = s.count();
  char buf[32];
  if (total % 60 == 0) {
    std::snprintf(buf, sizeof buf, "%02d:%02d", static_cast<int>(total / 3600),
                  static_cast<int>(total / 60 % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%02d:%02d:%02d", static_cast<int>(total / 3600),
                  static_cast<int>(total / 60 % 60), static_cast<int>(total % 60));
  }
  return buf;
}

std::string hours_text(std::chrono::seconds s) {
  if (s.count() % 3600 == 0) return std::to_string(s.count() / 3600) + " h";
  return std::to_string(s.count()) + " s";
}

std::string plural(int n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// Why a date is not a working day: its holiday name, or its weekday.
std::string non_working_reason(LocalDate d) {
  for (const Holiday& h : swedish_holidays(static_cast<int>(d.year()))) {
    if (h.date == d) return h.name;
  }
  static constexpr const char* kWeekdays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                              "Thursday", "Friday", "Saturday"};
  return kWeekdays[date::weekday{date::sys_days{d}}.c_encoding()];
}

// The non-working dates in [from, to), each with why: "2 non-working days skipped: 2025-06-06
// Sveriges nationaldag, 2025-06-07 Saturday". Empty text when there are none.
std::string skipped_text(LocalDate from, LocalDate to) {
  std::vector<std::string> days;
  for (auto d = date::sys_days{from}; d < date::sys_days{to}; d += date::days{1}) {
    const LocalDate day{d};
    if (!is_working_day(day)) days.push_back(format_date(day) + " " + non_working_reason(day));
  }
  std::string out =
      plural(static_cast<int>(days.size()), "non-working day", "non-working days") + " skipped";
  for (size_t i = 0; i < days.size(); ++i) out += (i == 0 ? ": " : ", ") + days[i];
  return out;
}

}  // namespace

std::string late_by(Instant due, Instant done) {
  // Elapsed time, so an hour that a DST change adds to or takes from the wall clock is counted
  // as it passed.
  auto left = std::chrono::duration_cast<std::chrono::seconds>(done - due).count();
  if (left <= 0) return "on time";
  std::string out;
  auto part = [&](int64_t unit, const char* name) {
    if (left < unit) return;
    out += (out.empty() ? "" : " ") + std::to_string(left / unit) + " " + name;
    left %= unit;
  };
  part(86400, "d");
  part(3600, "h");
  part(60, "min");
  part(1, "s");
  return out + " late";
}

DueAt admission_notice_due(Instant admitted_at, Instant assessed_at, const RuleSet& rules,
                           Steps steps) {
  DueAt out;
  const bool assessed_later = assessed_at > admitted_at;
  const Instant anchor = std::max(admitted_at, assessed_at);
  out.due = anchor + rules.admission_notice_window;
  if (steps == Steps::kSkipped) return out;
  out.steps.push_back(rule_set_text(rules));
  if (assessed_later) {
    out.steps.push_back("anchor " + format_local(anchor) +
                        " (physician's assessment, after admission " + format_local(admitted_at) +
                        ")");
  } else {
    out.steps.push_back("anchor " + format_local(anchor) + " (admission)");
  }
  out.steps.push_back("due = anchor + " + hours_text(rules.admission_notice_window) +
                      " elapsed time = " + format_local(out.due));
  return out;
}

DueAt information_transfer_due(Instant discharged_at, Steps steps) {
  DueAt out;
  const LocalDate day = local_date(discharged_at);
  out.due = end_of_local_day(day);
  if (steps == Steps::kSkipped) return out;
  out.steps.push_back("discharged " + format_local(discharged_at));
  out.steps.push_back("due = end of the discharge date " + format_date(day) + " = " +
                      format_local(out.due));
  return out;
}

DueAt sip_invitation_due(Instant notice_sent_at, const RuleSet& rules, std::string_view anchor_text,
                         Steps steps) {
  DueAt out;
  const LocalDate sent = local_date(notice_sent_at);
  const LocalDate last = add_calendar_days(sent, rules.sip_invitation_days);
  out.due = end_of_local_day(last);
  if (steps == Steps::kSkipped) return out;
  out.steps.push_back(rule_set_text(rules));
  out.steps.push_back(std::string(anchor_text) + " " + format_local(notice_sent_at) +
                      ": D = " + format_date(sent));
  out.steps.push_back("due = end of D + " +
                      plural(rules.sip_invitation_days, "calendar day", "calendar days") + " = " +
                      format_local(out.due));
  return out;
}

FirstLiable first_liable_date(Instant notice_sent_at, const LiabilityRule& rule) {
  FirstLiable out;
  const LocalDate sent = local_date(notice_sent_at);
  const bool after_cutoff = local_time_of_day(notice_sent_at) > rule.cutoff;
  const std::string when = "notice sent " + format_local(notice_sent_at);
  const std::string cutoff = "cut-off " + clock_text(rule.cutoff);

  LocalDate day0 = sent;
  if (rule.counting == DayCounting::kCalendar) {
    if (after_cutoff) day0 = add_calendar_days(sent, 1);
    out.steps.push_back(when + " (" + (after_cutoff ? "after " : "at or before ") + cutoff +
                        "): day 0 = " + format_date(day0));
  } else {
    // Pinned (rules/README.md): a notice on a non-working day counts from the next working day,
    // like one sent after the cut-off, so a later notice never gives an earlier liable date.
    const bool working = is_working_day(sent);
    if (after_cutoff || !working) day0 = next_working_day(sent);
    // Every non-working date passed on the way to day 0 is named: the sending date itself when it
    // is one, and those between it and the next working day.
    if (!working) {
      out.steps.push_back(when + " on a non-working day (" + non_working_reason(sent) +
                          "): day 0 = next working day " + format_date(day0) + " (" +
                          skipped_text(sent, day0) + ")");
    } else if (after_cutoff) {
      const LocalDate after_sent{date::sys_days{sent} + date::days{1}};
      out.steps.push_back(when + " (after " + cutoff + "): day 0 = next working day " +
                          format_date(day0) + " (" + skipped_text(after_sent, day0) + ")");
    } else {
      out.steps.push_back(when + " (at or before " + cutoff +
                          ", a working day): day 0 = " + format_date(day0));
    }
  }

  if (rule.counting == DayCounting::kCalendar) {
    out.date = add_calendar_days(day0, rule.grace_days);
    out.steps.push_back("first liable date = day 0 + " +
                        plural(rule.grace_days, "calendar day", "calendar days") + " = " +
                        format_date(out.date));
  } else {
    out.date = add_working_days(day0, rule.grace_days);
    out.steps.push_back("first liable date = day 0 + " +
                        plural(rule.grace_days, "working day", "working days") + " = " +
                        format_date(out.date) + " (" + skipped_text(day0, out.date) + ")");
  }
  return out;
}

std::optional<int64_t> daily_rate(const LiabilityRule& rule, LocalDate d) {
  const auto it = rule.daily_rate_sek.find(static_cast<int>(d.year()));
  if (it == rule.daily_rate_sek.end()) return std::nullopt;
  return it->second;
}

}  // namespace samordna::rules
