// Loads and validates rule files (format: rules/README.md). yaml-cpp throws; every exception is
// caught here and turned into a RuleError, so nothing escapes load_rule_book.

#include <fcntl.h>
#include <google/protobuf/descriptor.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "rules/rule_set.h"
#include "rules/yaml_reader.h"

namespace samordna::rules {

namespace {

namespace fs = std::filesystem;

using yaml::Field;
using yaml::in_quotes;
using yaml::line_of;

// The error sink of one file.
struct Context {
  std::string file;       // path as given, for RuleError
  std::string file_name;  // for RuleSet::source
  yaml::Reader* reader;

  void error(int line, std::string reason) const { reader->error(line, std::move(reason)); }
};

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The keys of one mapping (rules/yaml_reader.h), with the rule files' hints for unknown keys.
yaml::Fields fields(const Context& ctx, const YAML::Node& map, int map_line, std::string_view where,
                    std::initializer_list<std::string_view> known) {
  return yaml::Fields(*ctx.reader, map, map_line, where, known, yaml::KeyHints::kEditDistance);
}

// --- Scalars ---------------------------------------------------------------------------------

std::optional<std::string> as_string(const Context& ctx, const Field& f) {
  return yaml::read_string(*ctx.reader, f);
}

// Strict decimal integer in [min, max]. A quoted number is a string, not an integer.
std::optional<int64_t> as_int(const Context& ctx, const YAML::Node& n, int line,
                              const std::string& what, int64_t min, int64_t max) {
  return yaml::read_int(*ctx.reader, n, line, what, min, max);
}

std::optional<int> as_int_field(const Context& ctx, const Field& f, int min, int max) {
  const auto v = as_int(ctx, f.value, f.line, in_quotes(f.key), min, max);
  if (!v) return std::nullopt;
  return static_cast<int>(*v);
}

std::optional<LocalDate> as_date(const Context& ctx, const Field& f) {
  const auto s = as_string(ctx, f);
  if (!s) return std::nullopt;
  auto d = parse_date(*s);
  if (!d) {
    ctx.error(f.line,
              "bad date " + in_quotes(*s) + " in " + in_quotes(f.key) + ": " + d.error().message);
    return std::nullopt;
  }
  return d.value();
}

// "HH:MM" or "HH:MM:SS", local time; "24:00" means no cut-off (nothing is later than midnight).
std::optional<std::chrono::seconds> as_cutoff(const Context& ctx, const Field& f) {
  const auto s = as_string(ctx, f);
  if (!s) return std::nullopt;
  auto two = [&](size_t at) {
    return all_digits(s->substr(at, 2)) ? std::stoi(s->substr(at, 2)) : -1;
  };
  const bool shape = (s->size() == 5 || (s->size() == 8 && (*s)[5] == ':')) && (*s)[2] == ':';
  const int h = shape ? two(0) : -1;
  const int m = shape ? two(3) : -1;
  const int sec = shape && s->size() == 8 ? two(6) : 0;
  const bool in_range = h >= 0 && h <= 23 && m >= 0 && m <= 59 && sec >= 0 && sec <= 59;
  const bool midnight = h == 24 && m == 0 && sec == 0;
  if (!in_range && !midnight) {
    ctx.error(f.line, "bad cut-off " + in_quotes(*s) +
                          ": expected local time HH:MM (00:00-23:59), or 24:00 for no cut-off");
    return std::nullopt;
  }
  return std::chrono::hours{h} + std::chrono::minutes{m} + std::chrono::seconds{sec};
}

// "24h", "30m", "90s": a positive whole number and a unit.
std::optional<std::chrono::seconds> as_lead(const Context& ctx, const YAML::Node& n, int line,
                                            const std::string& what) {
  const std::string s = n.IsScalar() ? n.Scalar() : std::string();
  const char unit = s.empty() ? '\0' : s.back();
  const std::string_view digits = std::string_view(s).substr(0, s.empty() ? 0 : s.size() - 1);
  const bool shape =
      (unit == 'h' || unit == 'm' || unit == 's') && all_digits(digits) && digits.size() <= 6;
  int64_t v = 0;
  if (shape) {
    for (char c : digits) v = v * 10 + (c - '0');
  }
  if (v == 0) {
    ctx.error(line, "bad lead time " + in_quotes(s) + " for " + what +
                        ": expected a positive whole number with h, m or s, e.g. 24h");
    return std::nullopt;
  }
  const int64_t scale = unit == 'h' ? 3600 : unit == 'm' ? 60 : 1;
  return std::chrono::seconds{v * scale};
}

// Enum names from the proto descriptor, without the zero value (*_UNSPECIFIED).
std::string enum_names(const google::protobuf::EnumDescriptor* d) {
  std::string out;
  for (int i = 0; i < d->value_count(); ++i) {
    if (d->value(i)->number() == 0) continue;
    out += (out.empty() ? "" : ", ") + d->value(i)->name();
  }
  return out;
}

template <class Enum>
std::optional<Enum> as_proto_enum(const Context& ctx, const std::string& name, int line,
                                  const std::string& what, const std::string& where,
                                  const google::protobuf::EnumDescriptor* d) {
  const google::protobuf::EnumValueDescriptor* v = d->FindValueByName(name);
  if (v == nullptr || v->number() == 0) {
    ctx.error(line, "unknown " + what + " " + in_quotes(name) + where +
                        " (expected one of: " + enum_names(d) + ")");
    return std::nullopt;
  }
  return static_cast<Enum>(v->number());
}

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64 || id[0] == '-' || id[0] == '.') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

bool valid_region(std::string_view r) { return r.size() == 2 && all_digits(r); }

// --- Rule sets -------------------------------------------------------------------------------

constexpr int kMaxDays = 365;

struct Parsed {
  RuleSet set;
  std::string file;
  int line = 0;
  bool id_ok = false;     // set.id is valid (takes part in the duplicate-id check)
  bool complete = false;  // no error in this set (takes part in the overlap check and the book)
};

// "3", "3.0" or "2.5": a number of days with at most one decimal, in tenths of a day.
std::optional<int> as_tenths(const Context& ctx, const Field& f, int max_days) {
  const std::string s = f.value.IsScalar() ? f.value.Scalar() : std::string();
  const size_t dot = s.find('.');
  const std::string whole = s.substr(0, dot);
  const std::string fraction = dot == std::string::npos ? "" : s.substr(dot + 1);
  const bool shape = f.value.IsScalar() && all_digits(whole) && whole.size() <= 3 &&
                     (dot == std::string::npos || (fraction.size() == 1 && all_digits(fraction)));
  if (!shape) {
    ctx.error(f.line, in_quotes(f.key) + " must be a number of days with at most one decimal, " +
                          "e.g. 3.0, got " + in_quotes(s));
    return std::nullopt;
  }
  if (f.value.Tag() == "!") {  // yaml-cpp's tag for a quoted scalar
    ctx.error(f.line, in_quotes(f.key) + " must be a number, not quoted text: write " + s +
                          ", not \"" + s + "\"");
    return std::nullopt;
  }
  const int tenths = std::stoi(whole) * 10 + (fraction.empty() ? 0 : fraction[0] - '0');
  if (tenths > max_days * 10) {
    ctx.error(f.line,
              in_quotes(f.key) + " must be at most " + std::to_string(max_days) + ", got " + s);
    return std::nullopt;
  }
  return tenths;
}

void parse_liability(const Context& ctx, const Field& field, LiabilityRule& out) {
  if (!field.value.IsMap()) {
    ctx.error(field.line, "'liability' must be a mapping (graceDays, counting, cutoff, ...)");
    return;
  }
  const yaml::Fields f =
      fields(ctx, field.value, field.line, "liability",
             {"graceDays", "counting", "cutoff", "dailyRateSek", "model", "averageDays"});
  // The model decides which keys belong (rules/README.md, "Liability models"); absent = per
  // patient, so every rule file written before the second model means what it meant.
  bool model_known = true;
  if (const Field* x = f.get("model")) {
    const auto s = as_string(ctx, *x);
    if (s && *s == "per_patient") {
      out.model = LiabilityModel::kPerPatient;
    } else if (s && *s == "monthly_average") {
      out.model = LiabilityModel::kMonthlyAverage;
    } else {
      model_known = false;
      if (s) {
        ctx.error(x->line, "unknown liability model " + in_quotes(*s) +
                               " (expected per_patient or "
                               "monthly_average)");
      }
    }
  }
  if (!model_known) {
    // Which keys are required depends on the model: checking them against a guess would only
    // add errors that are not the problem.
  } else if (out.model == LiabilityModel::kPerPatient) {
    if (const Field* x = f.require("graceDays")) {
      if (const auto v = as_int_field(ctx, *x, 0, kMaxDays)) out.grace_days = *v;
    }
    if (const Field* x = f.get("averageDays")) {
      ctx.error(x->line,
                "'averageDays' belongs to the monthly_average model; this set's model is "
                "per_patient (add 'model: monthly_average', or use graceDays)");
    }
  } else {
    out.grace_days = 0;  // a stay's days count from day 0
    if (const Field* x = f.require("averageDays")) {
      if (const auto v = as_tenths(ctx, *x, kMaxDays)) out.average_days_tenths = *v;
    }
    if (const Field* x = f.get("graceDays")) {
      ctx.error(x->line,
                "'graceDays' belongs to the per_patient model; a monthly_average set gives the "
                "agreed average as 'averageDays'");
    }
  }
  if (const Field* x = f.require("counting")) {
    const auto s = as_string(ctx, *x);
    if (s && *s == "calendar") {
      out.counting = DayCounting::kCalendar;
    } else if (s && *s == "working") {
      out.counting = DayCounting::kWorking;
    } else if (s) {
      ctx.error(x->line, "unknown counting " + in_quotes(*s) + " (expected calendar or working)");
    }
    if (model_known && out.model == LiabilityModel::kMonthlyAverage &&
        out.counting == DayCounting::kWorking) {
      ctx.error(x->line,
                "the monthly_average model counts calendar days (an average of working days is "
                "not modelled): use 'counting: calendar'");
    }
  }
  if (const Field* x = f.require("cutoff")) {
    if (const auto v = as_cutoff(ctx, *x)) out.cutoff = *v;
  }
  if (const Field* x = f.get("dailyRateSek")) {
    if (!x->value.IsMap()) {
      ctx.error(x->line, "'dailyRateSek' must be a mapping of year to kronor, e.g. {2019: 7800}");
      return;
    }
    for (auto it = x->value.begin(); it != x->value.end(); ++it) {
      const int line = line_of(it->first, x->line);
      const auto year = as_int(ctx, it->first, line, "a year in 'dailyRateSek'", 1900, 2199);
      const auto rate = as_int(ctx, it->second, line, "the daily rate", 0, 1'000'000);
      if (!year || !rate) continue;
      if (!out.daily_rate_sek.emplace(static_cast<int>(*year), *rate).second) {
        ctx.error(line, "duplicate year " + std::to_string(*year) + " in 'dailyRateSek'");
      }
    }
  }
}

void parse_reminders(const Context& ctx, const Field& field, RuleSet& out) {
  if (!field.value.IsMap()) {
    ctx.error(field.line,
              "'reminders' must be a mapping of deadline kind to lead time, e.g. "
              "{SIP_INVITATION: 24h}");
    return;
  }
  for (auto it = field.value.begin(); it != field.value.end(); ++it) {
    const int line = line_of(it->first, field.line);
    if (!it->first.IsScalar()) {
      ctx.error(line, "a key in 'reminders' is not a deadline kind");
      continue;
    }
    const std::string name = it->first.Scalar();
    const auto kind = as_proto_enum<v1::DeadlineKind>(
        ctx, name, line, "deadline kind", " in 'reminders'", v1::DeadlineKind_descriptor());
    const auto lead = as_lead(ctx, it->second, line, name);
    if (!kind || !lead) continue;
    if (!out.reminder_lead.emplace(*kind, *lead).second) {
      ctx.error(line, "duplicate key " + in_quotes(name) + " in 'reminders'");
    }
  }
}

Parsed parse_rule_set(const Context& ctx, const YAML::Node& node, int line) {
  Parsed p;
  p.file = ctx.file;
  p.line = line;
  p.set.source = ctx.file_name + ":" + std::to_string(line);
  const size_t errors_before = ctx.reader->count();
  const yaml::Fields f =
      fields(ctx, node, line, "rule set",
             {"id", "title", "regions", "careType", "validFrom", "validTo",
              "admissionNoticeWindowHours", "sipInvitationDays", "liability", "reminders"});

  if (const Field* x = f.require("id")) {
    if (const auto s = as_string(ctx, *x)) {
      if (valid_id(*s)) {
        p.set.id = *s;
        p.id_ok = true;
      } else {
        ctx.error(x->line, "bad id " + in_quotes(*s) +
                               ": use lower-case letters, digits, '-', '_' and '.' (at most 64)");
      }
    }
  }
  if (const Field* x = f.require("title")) {
    if (const auto s = as_string(ctx, *x)) p.set.title = *s;
  }
  if (const Field* x = f.get("regions")) {
    if (!x->value.IsSequence()) {
      ctx.error(x->line, "'regions' must be a list of two-digit county codes, e.g. [\"01\"]");
    } else {
      for (const YAML::Node& r : x->value) {
        const int rline = line_of(r, x->line);
        const std::string code = r.IsScalar() ? r.Scalar() : std::string();
        if (!valid_region(code)) {
          ctx.error(rline, "bad region " + in_quotes(code) +
                               ": expected a two-digit county code (länskod), e.g. \"01\"");
        } else if (std::find(p.set.regions.begin(), p.set.regions.end(), code) !=
                   p.set.regions.end()) {
          ctx.error(rline, "region " + in_quotes(code) + " is listed twice");
        } else {
          p.set.regions.push_back(code);
        }
      }
    }
  }
  if (const Field* x = f.get("careType")) {
    if (const auto s = as_string(ctx, *x)) {
      p.set.care_type =
          as_proto_enum<v1::CareType>(ctx, *s, x->line, "careType", "", v1::CareType_descriptor());
    }
  }
  std::optional<LocalDate> from;
  if (const Field* x = f.require("validFrom")) {
    from = as_date(ctx, *x);
    if (from) p.set.valid_from = *from;
  }
  if (const Field* x = f.get("validTo")) {
    if (const auto to = as_date(ctx, *x)) {
      p.set.valid_to = *to;
      if (from && *to < *from) {
        ctx.error(x->line,
                  "validTo " + format_date(*to) + " is before validFrom " + format_date(*from));
      }
    }
  }
  if (const Field* x = f.require("admissionNoticeWindowHours")) {
    if (const auto v = as_int_field(ctx, *x, 1, 720)) {
      p.set.admission_notice_window = std::chrono::hours{*v};
    }
  }
  if (const Field* x = f.require("sipInvitationDays")) {
    if (const auto v = as_int_field(ctx, *x, 0, kMaxDays)) p.set.sip_invitation_days = *v;
  }
  if (const Field* x = f.require("liability")) parse_liability(ctx, *x, p.set.liability);
  if (const Field* x = f.get("reminders")) parse_reminders(ctx, *x, p.set);

  // Any problem in the set, an unknown key included, keeps it out of the book.
  p.complete = ctx.reader->count() == errors_before;
  return p;
}

// The content of a regular file, or why it cannot be read. Opened non-blocking and checked with
// fstat on the open descriptor, so a FIFO (or an entry swapped for one after the directory was
// listed) is refused, never waited on.
std::optional<std::string> read_regular_file(const fs::path& path, std::string& why) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    why = std::string("cannot read the file: ") + std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  std::string content;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = "not a regular file; rule files must be regular files";
  } else {
    char buffer[65536];
    while (true) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n > 0) {
        content.append(buffer, static_cast<size_t>(n));
      } else if (n == 0) {
        break;
      } else if (errno != EINTR) {
        why = std::string("cannot read the file: ") + std::strerror(errno);
        break;
      }
    }
  }
  ::close(fd);
  if (!why.empty()) return std::nullopt;
  return content;
}

// Parses one file's content into `out`; problems go to ctx.
void parse_file(const Context& ctx, const std::string& content, std::vector<Parsed>& out) {
  auto loaded = yaml::load_documents(*ctx.reader, content);
  if (!loaded) return;
  if (loaded->count == 0 || loaded->first.IsNull()) {
    ctx.error(0, "the file is empty; expected a 'ruleSets' list");
    return;
  }
  if (loaded->count > 1) {
    ctx.error(loaded->second_line,
              "more than one YAML document; put every set under one 'ruleSets'");
    return;
  }
  const YAML::Node& root = loaded->first;
  if (!root.IsMap()) {
    ctx.error(line_of(root, 1), "expected a mapping with the key 'ruleSets' at the top");
    return;
  }
  const yaml::Fields top = fields(ctx, root, line_of(root, 1), "the file", {"ruleSets"});
  const Field* sets = top.require("ruleSets");
  if (sets == nullptr) return;
  if (!sets->value.IsSequence() || sets->value.size() == 0) {
    ctx.error(sets->line, "'ruleSets' must be a non-empty list of rule sets");
    return;
  }
  for (const YAML::Node& item : sets->value) {
    const int line = line_of(item, sets->line);
    if (!item.IsMap()) {
      ctx.error(line, "a rule set must be a mapping (id, title, validFrom, ...)");
      continue;
    }
    out.push_back(parse_rule_set(ctx, item, line));
  }
}

// --- The book as a whole ---------------------------------------------------------------------

// A region both sets name ("" when both apply to every region), or nullopt if the scopes differ.
// A default set and a regional one never clash: RuleBook::select prefers the regional one.
std::optional<std::string> shared_region(const RuleSet& a, const RuleSet& b) {
  if (a.regions.empty() != b.regions.empty()) return std::nullopt;
  if (a.regions.empty()) return std::string();
  for (const std::string& r : a.regions) {
    if (std::find(b.regions.begin(), b.regions.end(), r) != b.regions.end()) return r;
  }
  return std::nullopt;
}

std::string scope_text(const RuleSet& s, const std::string& region) {
  return (region.empty() ? std::string("every region") : "region " + region) + ", " +
         (s.care_type ? "care type " + v1::CareType_Name(*s.care_type)
                      : std::string("every care type"));
}

// Two sets clash when they share care type (or both have none) and region (or both apply to
// every region) and their validity periods meet. Each set is reported once at most, against a set
// it overlaps: the sets of one scope are sorted by validFrom and swept, keeping the one that runs
// longest so far; a set starting before that one ends overlaps it. O(n log n) for n sets, and at
// most one error per set, where comparing every pair reported n^2/2 for n sets that all overlap.
void check_book(const std::vector<Parsed>& parsed, std::vector<RuleError>& errors) {
  std::map<std::string, const Parsed*> by_id;
  for (const Parsed& p : parsed) {
    if (!p.id_ok) continue;
    const auto [it, fresh] = by_id.emplace(p.set.id, &p);
    if (!fresh) {
      errors.push_back({p.file, p.line,
                        "duplicate id " + in_quotes(p.set.id) + " (also defined at " +
                            it->second->set.source + ")"});
    }
  }
  const LocalDate open_end{date::year::max(), date::December, date::day{31}};
  // Scope (care type, region; region "" = every region) -> indexes into parsed.
  std::map<std::pair<int, std::string>, std::vector<size_t>> scopes;
  for (size_t i = 0; i < parsed.size(); ++i) {
    const Parsed& p = parsed[i];
    if (!p.complete) continue;
    const int care = p.set.care_type ? static_cast<int>(*p.set.care_type) : -1;
    if (p.set.regions.empty()) {
      scopes[{care, std::string()}].push_back(i);
    } else {
      for (const std::string& r : p.set.regions) scopes[{care, r}].push_back(i);
    }
  }
  std::vector<bool> reported(parsed.size(), false);
  std::vector<std::pair<size_t, size_t>> clashes;  // (earlier, later) in load order
  for (auto& [scope, members] : scopes) {
    std::stable_sort(members.begin(), members.end(), [&](size_t l, size_t r) {
      return parsed[l].set.valid_from < parsed[r].set.valid_from;
    });
    std::optional<size_t> longest;
    for (size_t i : members) {
      const LocalDate to = parsed[i].set.valid_to.value_or(open_end);
      if (longest && parsed[i].set.valid_from <= parsed[*longest].set.valid_to.value_or(open_end)) {
        const size_t a = std::min(i, *longest), b = std::max(i, *longest);
        if (!reported[b]) {
          reported[b] = true;
          clashes.emplace_back(a, b);
        }
      }
      if (!longest || to > parsed[*longest].set.valid_to.value_or(open_end)) longest = i;
    }
  }
  std::sort(clashes.begin(), clashes.end(),
            [](const auto& l, const auto& r) { return l.second < r.second; });
  for (const auto& [ai, bi] : clashes) {
    const Parsed& a = parsed[ai];
    const Parsed& b = parsed[bi];
    const auto region = shared_region(a.set, b.set);
    const LocalDate from = std::max(a.set.valid_from, b.set.valid_from);
    const LocalDate to =
        std::min(a.set.valid_to.value_or(open_end), b.set.valid_to.value_or(open_end));
    errors.push_back({b.file, b.line,
                      "rule set " + in_quotes(b.set.id) + " overlaps " + in_quotes(a.set.id) +
                          " (" + a.set.source + ") for " + scope_text(b.set, region.value_or("")) +
                          " from " + format_date(from) +
                          (to == open_end ? " on" : " to " + format_date(to)) +
                          "; end one with validTo before the other's validFrom"});
  }
}

// Parses one file's content (errors under `file`) into `parsed` and `errors`.
void load_content(const std::string& file, const std::string& file_name, const std::string& content,
                  std::vector<Parsed>& parsed, std::vector<RuleError>& errors) {
  yaml::Reader reader;
  const Context ctx{file, file_name, &reader};
  try {
    parse_file(ctx, content, parsed);
  } catch (const std::exception& e) {
    // yaml-cpp throwing on a node shape not checked above: still an error in this file.
    ctx.error(0, std::string("cannot load the file: ") + e.what());
  }
  for (const yaml::Problem& p : reader.problems()) errors.push_back({file, p.line, p.reason});
}

// Sorts the errors by place and builds the book from the sets without one.
LoadedRules finish(std::vector<Parsed>& parsed, std::vector<RuleError> errors) {
  check_book(parsed, errors);
  std::stable_sort(errors.begin(), errors.end(), [](const RuleError& l, const RuleError& r) {
    return std::tie(l.file, l.line) < std::tie(r.file, r.line);
  });
  std::vector<RuleSet> sets;
  for (Parsed& p : parsed) {
    if (p.complete) sets.push_back(std::move(p.set));
  }
  LoadedRules result;
  result.book = RuleBook(std::move(sets));
  result.errors = std::move(errors);
  return result;
}

// Why an entry that is not a regular file (after following symlinks) cannot be a rule file.
std::string not_readable(const fs::directory_entry& entry) {
  std::error_code ec;
  const fs::file_status target = fs::status(entry.path(), ec);
  if (entry.is_symlink(ec)) {
    std::error_code status_ec;
    (void)fs::status(entry.path(), status_ec);
    if (status_ec.value() == ELOOP) return "a symbolic link loop; point it at a rule file";
    if (target.type() == fs::file_type::not_found) {
      return "a symbolic link to nothing (dangling); point it at a rule file or remove it";
    }
  }
  if (target.type() == fs::file_type::directory) {
    return "a directory, not a rule file; rule files must be regular files";
  }
  return "not a regular file (a FIFO, socket or device); rule files must be regular files";
}

}  // namespace

LoadedRules load_rule_book(const fs::path& dir) {
  std::vector<RuleError> errors;
  const std::string dir_text = dir.string();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    errors.push_back({dir_text, 0, "not a directory (expected a folder of *.yaml rule files)"});
    return LoadedRules{RuleBook(), std::move(errors)};
  }
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& path = it->path();
    const std::string name = path.filename().string();
    if (name.empty() || name[0] == '.') continue;
    const bool yaml = path.extension() == ".yaml";
    if (!yaml && path.extension() != ".yml") continue;
    // Anything named like a rule file that is not one would otherwise be skipped without a word,
    // and the episodes of its region would get the statutory rules.
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) {
      errors.push_back({path.string(), 0, not_readable(*it)});
    } else if (yaml) {
      files.push_back(path);
    } else {
      errors.push_back({path.string(), 0, "rule files must end in .yaml; rename it"});
    }
  }
  if (ec) {
    errors.push_back({dir_text, 0, "cannot list the directory: " + ec.message()});
    return LoadedRules{RuleBook(), std::move(errors)};
  }
  if (files.empty() && errors.empty()) {
    errors.push_back({dir_text, 0, "no *.yaml rule files in the directory"});
  }
  std::sort(files.begin(), files.end());

  std::vector<Parsed> parsed;
  for (const fs::path& path : files) {
    std::string why;
    const auto content = read_regular_file(path, why);
    if (!content) {
      errors.push_back({path.string(), 0, why});
      continue;
    }
    load_content(path.string(), path.filename().string(), *content, parsed, errors);
  }
  return finish(parsed, std::move(errors));
}

LoadedRules load_rule_text(const std::string& text, const std::string& file_name) {
  std::vector<Parsed> parsed;
  std::vector<RuleError> errors;
  load_content(file_name, file_name, text, parsed, errors);
  return finish(parsed, std::move(errors));
}

}  // namespace samordna::rules
