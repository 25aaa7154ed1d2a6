#include "rules/yaml_reader.h"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <exception>
#include <sstream>

namespace samordna::yaml {
namespace {

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

// "group_id" and "GroupID" both fold to "groupid": the usual slips for "groupId".
std::string fold(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '_' || c == '-' || c == '.') continue;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

// A key worth repeating in a message: short, printable ASCII, and not several lines folded into
// one (": " inside).
bool looks_like_a_key(std::string_view key) {
  return key.size() <= 64 && key.find(": ") == std::string_view::npos &&
         std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

std::string suggestion(std::string_view name, std::initializer_list<std::string_view> known,
                       KeyHints hints) {
  if (hints == KeyHints::kEditDistance) {
    if (name == "<<") return " (YAML merge keys are not supported)";
    // The edit distance is quadratic in the key's length: a key longer than any known one by
    // more than the threshold cannot be within it, and is not measured (a hostile 1 MB key).
    for (std::string_view k : known) {
      const size_t limit = k.size() <= 4 ? 1u : 2u;
      const size_t gap = name.size() > k.size() ? name.size() - k.size() : k.size() - name.size();
      if (lower(k) == lower(name) || (gap <= limit && distance(k, name) <= limit)) {
        return " (did you mean " + in_quotes(k) + "?)";
      }
    }
  } else {
    for (std::string_view k : known) {
      if (fold(k) == fold(name)) return " (did you mean " + in_quotes(k) + "?)";
    }
  }
  std::string all;
  for (std::string_view k : known) all += (all.empty() ? "" : ", ") + std::string(k);
  return " (known keys: " + all + ")";
}

}  // namespace

namespace {

// Counts documents from parser events, and notes where each one's content starts.
class DocumentScan final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    starts.push_back(mark.pos);
    content_lines.push_back(0);
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { note(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { note(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    note(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    note(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    note(mark);
  }
  void OnMapEnd() override {}

  std::vector<int> starts;         // Mark::pos of each document start
  std::vector<int> content_lines;  // 1-based line of each document's first node (0: none yet)

 private:
  void note(const YAML::Mark& mark) {
    if (!content_lines.empty() && content_lines.back() == 0) {
      content_lines.back() = mark.is_null() || mark.line < 0 ? 0 : mark.line + 1;
    }
  }
};

}  // namespace

std::optional<Documents> load_documents(Reader& r, const std::string& text) {
  try {
    // First count the documents (up to two) from the parser's events, watching for progress.
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentScan scan;
    // Every document is scanned (a stray ',' may follow a good one); a file of our kind with more
    // than a few is wrong anyway, so the count stops at kMaxDocuments.
    constexpr size_t kMaxDocuments = 1000;
    while (scan.starts.size() < kMaxDocuments && parser.HandleNextDocument(scan)) {
      const size_t n = scan.starts.size();
      if (n >= 2 && scan.starts[n - 1] == scan.starts[n - 2]) {
        r.error(scan.content_lines[n - 1],
                "YAML syntax error: a stray ',', ']' or '}' outside a flow collection");
        return std::nullopt;
      }
    }
    Documents docs;
    docs.count = std::min<size_t>(scan.starts.size(), 2);
    if (docs.count >= 2) docs.second_line = scan.content_lines[1];
    // Then build the first one (YAML::Load reads one document and stops).
    if (docs.count > 0) docs.first = YAML::Load(text);
    return docs;
  } catch (const YAML::ParserException& e) {
    r.error(e.mark.is_null() ? 0 : e.mark.line + 1, "YAML syntax error: " + e.msg);
  } catch (const std::exception& e) {
    r.error(0, std::string("cannot read the YAML: ") + e.what());
  }
  return std::nullopt;
}

int line_of(const YAML::Node& n, int fallback) {
  if (!n.IsDefined()) return fallback;
  const YAML::Mark m = n.Mark();
  return m.is_null() || m.line < 0 ? fallback : m.line + 1;
}

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

Fields::Fields(Reader& r, const YAML::Node& map, int map_line, std::string_view where,
               std::initializer_list<std::string_view> known, KeyHints hints)
    : r_(r), map_line_(map_line), where_(where) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key = it->first;
    const int line = line_of(key, map_line);
    if (!key.IsScalar()) {
      r.error(line, "a key in " + where_ + " is not a plain name");
      continue;
    }
    const std::string& name = key.Scalar();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      // A broken file can fold several lines into one plain scalar key, secrets and all (a
      // `sasl.password: ...` line below it): such a key is located, not quoted. Found by
      // tests/fuzz/ (fuzz_service_config).
      const std::string shown = looks_like_a_key(name)
                                    ? in_quotes(name) + " in " + where_
                                    : "in " + where_ + ", not shown (" +
                                          std::to_string(name.size()) + " bytes, not a plain name)";
      r.error(line, "unknown key " + shown + suggestion(name, known, hints));
      continue;
    }
    if (const auto seen = fields_.find(name); seen != fields_.end()) {
      r.error(line, "duplicate key " + in_quotes(name) + " in " + where_ + " (first at line " +
                        std::to_string(seen->second.line) + ")");
      continue;
    }
    fields_.emplace(name, Field{name, line, it->second});
  }
}

const Field* Fields::get(std::string_view key) const {
  const auto it = fields_.find(key);
  if (it == fields_.end() || it->second.value.IsNull()) return nullptr;
  return &it->second;
}

const Field* Fields::require(std::string_view key) const {
  const Field* f = get(key);
  if (f == nullptr) {
    const auto it = fields_.find(key);
    if (it != fields_.end()) {
      r_.error(it->second.line, "required key " + in_quotes(key) + " has no value");
    } else {
      r_.error(map_line_, "missing required key " + in_quotes(key) + " in " + where_);
    }
  }
  return f;
}

bool is_plain_scalar(const YAML::Node& n) { return n.IsScalar() && n.Tag() != "!"; }

std::optional<std::string> read_string(Reader& r, const Field& f) {
  if (!f.value.IsScalar()) {
    r.error(f.line, in_quotes(f.key) + " must be a single value, not a list or mapping");
    return std::nullopt;
  }
  return f.value.Scalar();
}

std::optional<int64_t> read_int(Reader& r, const YAML::Node& n, int line, const std::string& what,
                                int64_t min, int64_t max) {
  if (!n.IsScalar()) {
    r.error(line, what + " must be a whole number, not a list or mapping");
    return std::nullopt;
  }
  const std::string& s = n.Scalar();
  const bool negative = !s.empty() && s[0] == '-';
  const std::string_view digits = std::string_view(s).substr(negative ? 1 : 0);
  if (!all_digits(digits) || digits.size() > 12) {
    r.error(line, what + " must be a whole number, got " + in_quotes(s));
    return std::nullopt;
  }
  if (n.Tag() == "!") {  // yaml-cpp's tag for a quoted scalar
    r.error(line, what + " must be a number, not quoted text: write " + s + ", not \"" + s + "\"");
    return std::nullopt;
  }
  int64_t v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  if (negative) v = -v;
  if (v < min) {
    r.error(line,
            what +
                (min == 0 ? " must not be negative" : " must be at least " + std::to_string(min)) +
                ", got " + s);
    return std::nullopt;
  }
  if (v > max) {
    r.error(line, what + " must be at most " + std::to_string(max) + ", got " + s);
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> read_int_in_range(Reader& r, const Field& f, int64_t min, int64_t max) {
  const std::string what = in_quotes(f.key) + " must be a whole number from " +
                           std::to_string(min) + " to " + std::to_string(max);
  if (!is_plain_scalar(f.value)) {
    r.error(f.line, what);
    return std::nullopt;
  }
  const std::string& s = f.value.Scalar();
  const size_t sign = (!s.empty() && s[0] == '-') ? 1 : 0;
  if (s.size() > 18 || !all_digits(std::string_view(s).substr(sign))) {
    r.error(f.line, what);
    return std::nullopt;
  }
  const int64_t v = std::stoll(s);
  if (v < min || v > max) {
    r.error(f.line, what);
    return std::nullopt;
  }
  return v;
}

std::optional<bool> read_bool(Reader& r, const Field& f) {
  if (is_plain_scalar(f.value) && (f.value.Scalar() == "true" || f.value.Scalar() == "false")) {
    return f.value.Scalar() == "true";
  }
  r.error(f.line, in_quotes(f.key) + " must be true or false");
  return std::nullopt;
}

}  // namespace samordna::yaml
