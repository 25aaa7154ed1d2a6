#pragma once

// The audit record (Patientdatalagen 2008:355, 4 kap. 3 §: access to patient data is logged so
// that it can be followed up). The API writes one for every request to a route that can carry
// personal data, BEFORE it answers, and answers 503 when the record cannot be made durable.
// Records go to the Kafka topic `samordna.audit` (key: the caller's organisation "KIND:id",
// value: the JSON below), and come back into the read model for `GET /api/v1/audit`.
//
// A record names who (subject, organisation, role), what (method, route template, episode ids),
// when and the outcome. It never holds a personal identity number, a name or a query value: a
// search by identity number records the episodes it returned, not the number.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/core/result.h"
#include "engine/core/time.h"
#include "samordna/v1/event.pb.h"

namespace samordna::serve {

struct AuditRecord {
  std::string request_id;  // random, per request
  Instant at{};
  std::string subject;  // the token's `sub`
  v1::Organisation::Kind org_kind = v1::Organisation::KIND_UNSPECIFIED;
  std::string org_id;
  std::string role;
  std::string method;
  std::string route;  // the route template, e.g. "/api/v1/episodes/{id}"
  std::vector<std::string> episode_ids;
  // The regions of those episodes: the region answers for their care, so its auditors follow up
  // every access to them, whoever made it (GET /api/v1/audit).
  std::vector<std::string> regions;
  int status = 0;       // the HTTP status answered
  std::string outcome;  // "ok", "not_found", "bad_request", ...
};

// The record as compact JSON (the topic's value).
std::string to_json(const AuditRecord& r);
// Parses a record; kInvalidArgument when it is not one.
Result<AuditRecord> parse_audit_record(const std::string& json);
// The Kafka key of a record: "KIND:id" of the caller's organisation.
std::string audit_key(const AuditRecord& r);

// Writes one record durably (acks=all, confirmed) or fails. Called on the request's thread,
// which waits; a failure makes the request fail with 503.
using AuditSink = std::function<Result<void>(const std::string& key, const std::string& json)>;

}  // namespace samordna::serve
