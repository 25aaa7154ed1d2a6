#pragma once

// The answers of the FHIR listener as FHIR JSON: OperationOutcome for errors and for what a
// request made, a transaction-response / batch-response Bundle for POST /fhir, and the
// CapabilityStatement of GET /fhir/metadata.

#include <string>
#include <string_view>
#include <vector>

#include "connectors/fhir/mapping.h"

namespace samordna::fhir {

std::string operation_outcome(const std::vector<Issue>& issues);
std::string operation_outcome(Issue issue);  // one issue

// The response Bundle of a transaction or batch: one entry per Encounter (and refused entry) in
// the order of `mapped.encounters`, each with response.status and an OperationOutcome.
// `published[i]` is how many events entry i actually published (after the snapshot diff).
std::string bundle_response(const Mapped& mapped, const std::vector<size_t>& published);

// "201 Created" etc. for a Bundle entry's response.status.
std::string status_line(int status);

std::string capability_statement();

}  // namespace samordna::fhir
