#pragma once

// The one strict YAML reader for samordna's hand-written files: rule files (rules/rule_loader.cc)
// and the service config (connectors/kafka/config.cc). yaml-cpp accepts anything shaped like YAML
// and throws when asked for the wrong type; this module turns a file into fields with their line,
// and every problem into "line: reason", so one run shows all of them and a typo is never silently
// ignored. Reasons name keys and lines; they quote a value only where the caller says so (rule
// files hold no personal data; the config's `properties` may hold passwords and never are).
//
// Not thread-safe; one Reader per file being read.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace samordna::yaml {

// One problem in a file: a 1-based line (0 for the file as a whole) and a reason.
struct Problem {
  int line = 0;
  std::string reason;
};

// Collects the problems of one file.
class Reader {
 public:
  void error(int line, std::string reason) { problems_.push_back({line, std::move(reason)}); }
  const std::vector<Problem>& problems() const { return problems_; }
  size_t count() const { return problems_.size(); }

 private:
  std::vector<Problem> problems_;
};

// What a file holds: its first YAML document, and whether there is a second (our files have one).
struct Documents {
  size_t count = 0;     // 0, 1, or 2 for "two or more": the rest is never read
  YAML::Node first;     // the first document's root (null when count is 0)
  int second_line = 0;  // 1-based line where the second document's content starts, when count is 2
};

// The documents of `text`; nullopt after a syntax error (reported as "YAML syntax error: ..." at
// its line) or any other yaml-cpp exception (reported at line 0). Not YAML::LoadAll: yaml-cpp 0.7
// loops forever on a stray flow indicator outside a flow collection (a file that is just ",", or
// `"a",`), yielding empty documents without reading on, until memory runs out. Found by
// tests/fuzz/; here a document that starts where the last one started is that syntax error.
std::optional<Documents> load_documents(Reader& r, const std::string& text);

// 1-based line of a node, or `fallback` when yaml-cpp has no position for it.
int line_of(const YAML::Node& n, int fallback = 0);

std::string in_quotes(std::string_view s);  // 'x'

// How an unknown key is answered, besides naming it: the two files grew different hints.
enum class KeyHints {
  kEditDistance,  // rule files: same letters in another case, or a small edit distance; "<<"
  kFolded,        // the config: equal once case, '_', '-' and '.' are ignored (group_id)
};

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
  Fields(Reader& r, const YAML::Node& map, int map_line, std::string_view where,
         std::initializer_list<std::string_view> known, KeyHints hints);

  // The field if present with a value; an explicit null (`key:` or `key: ~`) counts as absent.
  const Field* get(std::string_view key) const;
  // As get, and reports a missing key (or one without a value) when there is none.
  const Field* require(std::string_view key) const;

 private:
  Reader& r_;
  int map_line_;
  std::string where_;
  std::map<std::string, Field, std::less<>> fields_;
};

// A plain (unquoted) scalar: "4" in quotes is a string, so it is no number and no boolean.
bool is_plain_scalar(const YAML::Node& n);

// --- Scalars: each reports its own problem and returns nullopt -----------------------------------

// A single value: "'key' must be a single value, not a list or mapping" otherwise.
std::optional<std::string> read_string(Reader& r, const Field& f);

// Strict decimal integer in [min, max] (at most 12 digits); a quoted number is a string. Reasons
// start with `what` and quote the text ("... must be a whole number, got 'x'", "... must be at
// most 365, got 400"). For rule files.
std::optional<int64_t> read_int(Reader& r, const YAML::Node& n, int line, const std::string& what,
                                int64_t min, int64_t max);

// Strict decimal integer in [min, max] (at most 18 characters), unquoted; one reason for every
// problem that never quotes the text: "'key' must be a whole number from min to max". For the
// config.
std::optional<int64_t> read_int_in_range(Reader& r, const Field& f, int64_t min, int64_t max);

// true or false, unquoted: "'key' must be true or false" otherwise.
std::optional<bool> read_bool(Reader& r, const Field& f);

}  // namespace samordna::yaml
