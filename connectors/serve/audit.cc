#include "connectors/serve/audit.h"

#include <nlohmann/json.hpp>

namespace samordna::serve {

std::string to_json(const AuditRecord& r) {
  nlohmann::json j = {
      {"requestId", r.request_id},
      {"at", format_utc(r.at)},
      {"subject", r.subject},
      {"org", {{"kind", v1::Organisation::Kind_Name(r.org_kind)}, {"id", r.org_id}}},
      {"role", r.role},
      {"method", r.method},
      {"route", r.route},
      {"episodeIds", r.episode_ids},
      {"regions", r.regions},
      {"status", r.status},
      {"outcome", r.outcome},
  };
  return j.dump();
}

Result<AuditRecord> parse_audit_record(const std::string& json) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(Errc::kInvalidArgument, "audit record: not JSON");
  AuditRecord r;
  try {
    r.request_id = j.value("requestId", "");
    auto at = parse_rfc3339(j.at("at").get<std::string>());
    if (!at) return fail(Errc::kInvalidArgument, "audit record: bad at");
    r.at = at.value();
    r.subject = j.value("subject", "");
    const auto& org = j.at("org");
    if (!v1::Organisation::Kind_Parse(org.at("kind").get<std::string>(), &r.org_kind)) {
      return fail(Errc::kInvalidArgument, "audit record: bad org.kind");
    }
    r.org_id = org.at("id").get<std::string>();
    r.role = j.value("role", "");
    r.method = j.value("method", "");
    r.route = j.value("route", "");
    r.episode_ids = j.value("episodeIds", std::vector<std::string>{});
    r.regions = j.value("regions", std::vector<std::string>{});
    r.status = j.value("status", 0);
    r.outcome = j.value("outcome", "");
  } catch (const nlohmann::json::exception&) {
    return fail(Errc::kInvalidArgument, "audit record: missing or mistyped field");
  }
  return r;
}

std::string audit_key(const AuditRecord& r) {
  return v1::Organisation::Kind_Name(r.org_kind) + ":" + r.org_id;
}

}  // namespace samordna::serve
