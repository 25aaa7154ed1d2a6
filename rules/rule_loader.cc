// Loads and validates rule files (format: rules/README.md). yaml-cpp throws; every exception is
// caught here and turned into a RuleError, so nothing escapes load_rule_book.

#include <google/protobuf/descriptor.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <exception>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "rules/rule_set.h"

namespace samordna::rules {

namespace {

namespace fs = std::filesystem;

// The error sink of one file.
struct Context {
  std::string file;       // path as given, for RuleError
  std::string file_name;  // for RuleSet::source
  std::vector<RuleError>* errors;

  void error(int line, std::string reason) const {
    errors->push_back(RuleError{file, line, std::move(reason)});
  }
};

// 1-based line of a node, or `fallback` when yaml-cpp has no position for it.
int line_of(const YAML::Node& n, int fallback = 0) {
  if (!n.IsDefined()) return fallback;
  const YAML::Mark m = n.Mark();
  return m.is_null() || m.line < 0 ? fallback : m.line + 1;
}

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Edit distance, for "did you mean" on unknown keys.
size_t distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// One key of a mapping, with the line to blame for its value.
struct Field {
  std::string key;
  int line = 0;
  YAML::Node value;
};

// The keys of one mapping. Construction reports non-scalar, duplicate and unknown keys, so a typo
// is never silently ignored; get/require hand out the known ones.
class Fields {
 public:
  Fields(const Context& ctx, const YAML::Node& map, int map_line, std::string_view where,
         std::initializer_list<std::string_view> known)
      : ctx_(ctx), map_line_(map_line), where_(where) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;
      const int line = line_of(key, map_line);
      if (!key.IsScalar()) {
        ctx.error(line, "a key in " + where_ + " is not a plain name");
        continue;
      }
      const std::string& name = key.Scalar();
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        ctx.error(line, "unknown key " + in_quotes(name) + " in " + where_ + suggest(name, known));
        continue;
      }
      const auto seen = fields_.find(name);
      if (seen != fields_.end()) {
        ctx.error(line, "duplicate key " + in_quotes(name) + " in " + where_ + " (first at line " +
                            std::to_string(seen->second.line) + ")");
        continue;
      }
      fields_.emplace(name, Field{name, line, it->second});
    }
  }

  // The field if present with a value; an explicit null (`key:` or `key: ~`) counts as absent.
  const Field* get(std::string_view key) const {
    const auto it = fields_.find(std::string(key));
    if (it == fields_.end() || it->second.value.IsNull()) return nullptr;
    return &it->second;
  }

  const Field* require(std::string_view key) const {
    const Field* f = get(key);
    if (f == nullptr) {
      const auto it = fields_.find(std::string(key));
      if (it != fields_.end()) {
        ctx_.error(it->second.line, "required key " + in_quotes(key) + " has no value");
      } else {
        ctx_.error(map_line_, "missing required key " + in_quotes(key) + " in " + where_);
      }
    }
    return f;
  }

 private:
  static std::string suggest(std::string_view name, std::initializer_list<std::string_view> known) {
    if (name == "<<") return " (YAML merge keys are not supported)";
    for (std::string_view k : known) {
      if (lower(k) == lower(name) || distance(k, name) <= (k.size() <= 4 ? 1u : 2u)) {
        return " (did you mean " + in_quotes(k) + "?)";
      }
    }
    std::string all;
    for (std::string_view k : known) all += (all.empty() ? "" : ", ") + std::string(k);
    return " (known keys: " + all + ")";
  }

  const Context& ctx_;
  int map_line_;
  std::string where_;
  std::map<std::string, Field> fields_;
};

// --- Scalars ---------------------------------------------------------------------------------

std::optional<std::string> as_string(const Context& ctx, const Field& f) {
  if (!f.value.IsScalar()) {
    ctx.error(f.line, in_quotes(f.key) + " must be a single value, not a list or mapping");
    return std::nullopt;
  }
  return f.value.Scalar();
}

// Strict decimal integer in [min, max]. A quoted number is a string, not an integer.
std::optional<int64_t> as_int(const Context& ctx, const YAML::Node& n, int line,
                              const std::string& what, int64_t min, int64_t max) {
  if (!n.IsScalar()) {
    ctx.error(line, what + " must be a whole number, not a list or mapping");
    return std::nullopt;
  }
  const std::string& s = n.Scalar();
  const bool negative = !s.empty() && s[0] == '-';
  const std::string_view digits = std::string_view(s).substr(negative ? 1 : 0);
  if (!all_digits(digits) || digits.size() > 12) {
    ctx.error(line, what + " must be a whole number, got " + in_quotes(s));
    return std::nullopt;
  }
  if (n.Tag() == "!") {  // yaml-cpp's tag for a quoted scalar
    ctx.error(line,
              what + " must be a number, not quoted text: write " + s + ", not \"" + s + "\"");
    return std::nullopt;
  }
  int64_t v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  if (negative) v = -v;
  if (v < min) {
    ctx.error(
        line,
        what + (min == 0 ? " must not be negative" : " must be at least " + std::to_string(min)) +
            ", got " + s);
    return std::nullopt;
  }
  if (v > max) {
    ctx.error(line, what + " must be at most " + std::to_string(max) + ", got " + s);
    return std::nullopt;
  }
  return v;
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

void parse_liability(const Context& ctx, const Field& field, LiabilityRule& out) {
  if (!field.value.IsMap()) {
    ctx.error(field.line, "'liability' must be a mapping (graceDays, counting, cutoff, ...)");
    return;
  }
  const Fields f(ctx, field.value, field.line, "liability",
                 {"graceDays", "counting", "cutoff", "dailyRateSek"});
  if (const Field* x = f.require("graceDays")) {
    if (const auto v = as_int_field(ctx, *x, 0, kMaxDays)) out.grace_days = *v;
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
  const size_t errors_before = ctx.errors->size();
  const Fields f(ctx, node, line, "rule set",
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
  p.complete = ctx.errors->size() == errors_before;
  return p;
}

// Parses one file into `out`; problems go to ctx.
void load_file(const Context& ctx, std::vector<Parsed>& out) {
  std::ifstream in(ctx.file, std::ios::binary);
  std::stringstream content;
  if (in.is_open()) content << in.rdbuf();
  if (!in.is_open() || in.bad()) {
    ctx.error(0, "cannot read the file");
    return;
  }
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(content.str());
  } catch (const YAML::ParserException& e) {
    ctx.error(e.mark.is_null() ? 0 : e.mark.line + 1, "YAML syntax error: " + e.msg);
    return;
  }
  if (docs.empty() || docs[0].IsNull()) {
    ctx.error(0, "the file is empty; expected a 'ruleSets' list");
    return;
  }
  if (docs.size() > 1) {
    ctx.error(line_of(docs[1]), "more than one YAML document; put every set under one 'ruleSets'");
    return;
  }
  const YAML::Node& root = docs[0];
  if (!root.IsMap()) {
    ctx.error(line_of(root, 1), "expected a mapping with the key 'ruleSets' at the top");
    return;
  }
  const Fields top(ctx, root, line_of(root, 1), "the file", {"ruleSets"});
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
  for (size_t j = 0; j < parsed.size(); ++j) {
    const Parsed& b = parsed[j];
    if (!b.complete) continue;
    for (size_t i = 0; i < j; ++i) {
      const Parsed& a = parsed[i];
      if (!a.complete || a.set.care_type != b.set.care_type) continue;
      const auto region = shared_region(a.set, b.set);
      if (!region) continue;
      const LocalDate from = std::max(a.set.valid_from, b.set.valid_from);
      const LocalDate to =
          std::min(a.set.valid_to.value_or(open_end), b.set.valid_to.value_or(open_end));
      if (from > to) continue;
      errors.push_back({b.file, b.line,
                        "rule set " + in_quotes(b.set.id) + " overlaps " + in_quotes(a.set.id) +
                            " (" + a.set.source + ") for " + scope_text(b.set, *region) + " from " +
                            format_date(from) +
                            (to == open_end ? " on" : " to " + format_date(to)) +
                            "; end one with validTo before the other's validFrom"});
    }
  }
}

}  // namespace

LoadedRules load_rule_book(const fs::path& dir) {
  LoadedRules result;
  std::vector<RuleError>& errors = result.errors;
  const std::string dir_text = dir.string();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    errors.push_back({dir_text, 0, "not a directory (expected a folder of *.yaml rule files)"});
    return result;
  }
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& path = it->path();
    const std::string name = path.filename().string();
    std::error_code type_ec;
    if (name.empty() || name[0] == '.' || !it->is_regular_file(type_ec)) continue;
    if (path.extension() == ".yaml") {
      files.push_back(path);
    } else if (path.extension() == ".yml") {
      // Would otherwise be skipped without a word, and its rules never applied.
      errors.push_back({path.string(), 0, "rule files must end in .yaml; rename it"});
    }
  }
  if (ec) {
    errors.push_back({dir_text, 0, "cannot list the directory: " + ec.message()});
    return result;
  }
  if (files.empty() && errors.empty()) {
    errors.push_back({dir_text, 0, "no *.yaml rule files in the directory"});
  }
  std::sort(files.begin(), files.end());

  std::vector<Parsed> parsed;
  for (const fs::path& path : files) {
    const Context ctx{path.string(), path.filename().string(), &errors};
    try {
      load_file(ctx, parsed);
    } catch (const std::exception& e) {
      // yaml-cpp throwing on a node shape not checked above: still an error in this file.
      ctx.error(0, std::string("cannot load the file: ") + e.what());
    }
  }
  check_book(parsed, errors);
  std::stable_sort(errors.begin(), errors.end(), [](const RuleError& l, const RuleError& r) {
    return std::tie(l.file, l.line) < std::tie(r.file, r.line);
  });

  std::vector<RuleSet> sets;
  for (Parsed& p : parsed) {
    if (p.complete) sets.push_back(std::move(p.set));
  }
  result.book = RuleBook(std::move(sets));
  return result;
}

}  // namespace samordna::rules
