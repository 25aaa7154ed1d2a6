#include "engine/core/json_error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <regex>

namespace samordna {
namespace {

// Protobuf reports the proto field path (needs_assessed.needs[0]); the contract's JSON spells it
// needsAssessed.needs[0].
std::string json_path(const std::string& proto_path) {
  std::string out;
  bool upper = false;
  for (char c : proto_path) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    upper = false;
  }
  return out;
}

// Checks the syntax without building a document and without throwing. nlohmann reports a number
// no double can hold (1e309, a 50-million-digit integer) as out_of_range, not parse_error; its
// DOM parser throws that with the number in the message, which may be an identity number. The
// SAX interface hands both to parse_error with the byte position, and only the position is kept.
class SyntaxCheck final : public nlohmann::json::json_sax_t {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::json::exception& e) override {
    byte_ = position;
    number_too_large_ = e.id == 406;
    return false;
  }

  // "" when the line is valid JSON.
  std::string problem() const {
    if (!byte_) return std::string();
    return (number_too_large_ ? "a number too large to read" : "not valid JSON") +
           std::string(" (at byte ") + std::to_string(*byte_) + ")";
  }

 private:
  std::optional<std::size_t> byte_;
  bool number_too_large_ = false;
};

// A field name from a schema has letters and underscores only; a key with a digit in it may be
// an identity number (or hold one) and is data.
bool looks_like_a_field_name(const std::string& key) {
  return !key.empty() && key.size() <= 64 && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  });
}

}  // namespace

std::string describe_json_error(std::string_view line, std::string_view parser_message) {
  SyntaxCheck syntax;
  (void)nlohmann::json::sax_parse(line, &syntax, nlohmann::json::input_format_t::json, false);
  if (std::string problem = syntax.problem(); !problem.empty()) return problem;
  const std::string message(parser_message);
  std::smatch m;
  // "(admitted.care_type): invalid value ..." : the field path is schema, the rest may be data.
  static const std::regex kPath(R"(^\(([A-Za-z0-9_.\[\]]+)\):)");
  if (std::regex_search(message, m, kPath))
    return "invalid value for field " + json_path(m[1].str());
  // "ward: Cannot find field." : names come from the sender's schema, not from a patient, but
  // only a name that looks like one is repeated.
  static const std::regex kUnknown(R"(^([^:]{1,64}): Cannot find field)");
  if (std::regex_search(message, m, kUnknown) && looks_like_a_field_name(m[1].str())) {
    return "unknown field " + m[1].str();
  }
  if (message.find("Cannot find field") != std::string::npos) return "unknown field";
  return "the JSON does not match samordna.v1.Event (a field has the wrong type or value)";
}

}  // namespace samordna
