#include "connectors/fhir/outcome.h"

#include <nlohmann/json.hpp>

namespace samordna::fhir {
namespace {

using json = nlohmann::json;

const char* severity(Issue::Severity s) {
  switch (s) {
    case Issue::Severity::kFatal:
      return "fatal";
    case Issue::Severity::kError:
      return "error";
    case Issue::Severity::kWarning:
      return "warning";
    case Issue::Severity::kInformation:
      return "information";
  }
  return "error";
}

json outcome_json(const std::vector<Issue>& issues) {
  json out = {{"resourceType", "OperationOutcome"}, {"issue", json::array()}};
  for (const auto& i : issues) {
    json issue = {{"severity", severity(i.severity)},
                  {"code", i.code.empty() ? "processing" : i.code},
                  {"diagnostics", i.diagnostics}};
    if (!i.expression.empty()) issue["expression"] = json::array({i.expression});
    out["issue"].push_back(std::move(issue));
  }
  if (issues.empty()) {
    out["issue"].push_back(
        {{"severity", "information"}, {"code", "informational"}, {"diagnostics", "ok"}});
  }
  return out;
}

}  // namespace

std::string operation_outcome(const std::vector<Issue>& issues) {
  // Strings that are not valid UTF-8 are replaced, never thrown on.
  return outcome_json(issues).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string operation_outcome(Issue issue) {
  return operation_outcome(std::vector<Issue>{std::move(issue)});
}

std::string status_line(int status) {
  switch (status) {
    case 200:
      return "200 OK";
    case 201:
      return "201 Created";
    case 400:
      return "400 Bad Request";
    case 413:
      return "413 Payload Too Large";
    case 415:
      return "415 Unsupported Media Type";
    case 422:
      return "422 Unprocessable Entity";
    case 503:
      return "503 Service Unavailable";
    default:
      return std::to_string(status);
  }
}

std::string bundle_response(const Mapped& mapped, const std::vector<size_t>& published) {
  json b = {
      {"resourceType", "Bundle"},
      {"type", mapped.kind == Mapped::Kind::kBatch ? "batch-response" : "transaction-response"},
      {"entry", json::array()}};
  for (size_t i = 0; i < mapped.encounters.size(); ++i) {
    const auto& r = mapped.encounters[i];
    std::vector<Issue> issues = r.issues;
    if (r.status < 300) {
      size_t n = i < published.size() ? published[i] : 0;
      issues.push_back({Issue::Severity::kInformation, "informational",
                        std::to_string(n) + " event(s) published, " +
                            std::to_string(r.events.size() - std::min(n, r.events.size())) +
                            " already known",
                        r.expression});
    }
    json response = {{"status", status_line(r.status)}, {"outcome", outcome_json(issues)}};
    if (r.status < 300 && !r.encounter.empty()) response["location"] = "Encounter/" + r.encounter;
    b["entry"].push_back({{"response", std::move(response)}});
  }
  return b.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string capability_statement() {
  json interactions = json::array({{{"code", "create"}}, {{"code", "update"}}});
  json cs = {
      {"resourceType", "CapabilityStatement"},
      {"status", "active"},
      {"date", "2026-12-04"},
      {"kind", "instance"},
      {"software", {{"name", "samordna"}}},
      {"implementation",
       {{"description", "samordna FHIR listener: Encounter snapshots to events"}}},
      {"fhirVersion", "4.0.1"},
      {"format", json::array({"application/fhir+json", "json"})},
      {"rest",
       json::array(
           {{{"mode", "server"},
             {"documentation",
              "Encounter create/update and transaction/batch Bundles (Encounter with "
              "Patient). 2xx only once the events are durable; otherwise 503 with "
              "Retry-After. The law's own steps: the coordination-step extension."},
             {"resource",
              json::array(
                  {{{"type", "Encounter"}, {"interaction", interactions}, {"updateCreate", true}},
                   {{"type", "Patient"},
                    {"documentation",
                     "only inside a transaction or batch Bundle, "
                     "as the subject of an Encounter"}}})},
             {"interaction", json::array({{{"code", "transaction"}}, {{"code", "batch"}}})}}})}};
  return cs.dump();
}

}  // namespace samordna::fhir
