#include "engine/core/json_error.h"

#include <nlohmann/json.hpp>

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

}  // namespace

std::string describe_json_error(std::string_view line, std::string_view parser_message) {
  try {
    [[maybe_unused]] const auto parsed = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    return "not valid JSON (at byte " + std::to_string(e.byte) + ")";
  }
  const std::string message(parser_message);
  std::smatch m;
  // "(admitted.care_type): invalid value ..." : the field path is schema, the rest may be data.
  static const std::regex kPath(R"(^\(([A-Za-z0-9_.\[\]]+)\):)");
  if (std::regex_search(message, m, kPath))
    return "invalid value for field " + json_path(m[1].str());
  // "ward: Cannot find field." : names come from the sender's schema, not from a patient, but
  // only a name that looks like one is repeated.
  static const std::regex kUnknown(R"(^([A-Za-z_][A-Za-z0-9_]{0,63}): Cannot find field)");
  if (std::regex_search(message, m, kUnknown)) return "unknown field " + m[1].str();
  if (message.find("Cannot find field") != std::string::npos) return "unknown field";
  return "the JSON does not match samordna.v1.Event (a field has the wrong type or value)";
}

}  // namespace samordna
