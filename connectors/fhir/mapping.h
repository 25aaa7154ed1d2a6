#pragma once

// FHIR R4 Encounter (and a transaction or batch Bundle with its Patient) -> samordna.v1.Events.
// The table, with the source of every default, is in connectors/fhir/README.md ("The mapping").
//
// Pure: the same resource and configuration always give the same events with the same ids, so a
// resent resource is recognised (snapshot.h) and, should it slip through, dropped by the engine.
// Kafka-free and HTTP-free: the listener (engine/app/cmd_fhir.cc) wires it to the server and the
// publisher. Errors name fields and positions ("Bundle.entry[2].resource.period.end"), never
// values.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "samordna/v1/event.pb.h"

namespace samordna::fhir {

// The canonical base of samordna's FHIR profile (the law's own steps, README.md "Profile").
inline constexpr std::string_view kProfileBase = "https://samordna.se/fhir/StructureDefinition/";

// Per sender; every field has a default, so a sender with no configuration works.
struct SenderConfig {
  // Event.source is "fhir:<sender>": the engine's dedup key is (source, eventId).
  std::string sender = "default";
  // Prefix of the episode id; the encounter's key follows it.
  std::string episode_prefix;
  // The Encounter.identifier system whose value is the episode. Empty: Encounter.id, and without
  // an id the first identifier's value.
  std::string episode_identifier_system;
  // Encounter.class codes (v3 ActCode) that are inpatient care (sluten vård).
  std::vector<std::string> inpatient_classes{"IMP", "ACUTE", "NONAC"};
  // Identifier systems of personnummer and samordningsnummer (Patient.identifier or the logical
  // reference Encounter.subject.identifier).
  std::vector<std::string> personnummer_systems{
      "urn:oid:1.2.752.129.2.1.3.1", "http://electronichealth.se/identifier/personnummer"};
  std::vector<std::string> samordningsnummer_systems{
      "urn:oid:1.2.752.129.2.1.3.3", "http://electronichealth.se/identifier/samordningsnummer"};
  // The 2-digit county code of the region whose rules apply. Empty: the first two digits of the
  // home municipality's kommunkod.
  std::string region;
  // Encounter.serviceType codes that are psychiatric inpatient care; all others somatic.
  std::vector<std::string> psychiatric_service_types;
  // The zone of dateTimes without an offset and of dates (midnight).
  std::string time_zone = "Europe/Stockholm";
  size_t max_resource_bytes = 1024 * 1024;
};

// One OperationOutcome issue. `expression` is a FHIRPath to the element ("Encounter.status").
struct Issue {
  enum class Severity { kFatal, kError, kWarning, kInformation } severity = Severity::kError;
  std::string code;  // the IssueType code: invalid, structure, required, value, not-supported...
  std::string diagnostics;
  std::string expression;
};

// What one Encounter makes.
struct EncounterResult {
  std::string expression;  // "Encounter" or "Bundle.entry[1].resource"
  std::string encounter;   // Encounter.id as sent (for the response), may be empty
  std::string episode_id;
  int status = 200;  // per entry: 200, or the error's status
  std::vector<Issue> issues;
  std::vector<v1::Event> events;  // every event this snapshot implies (not yet diffed)
  // Ids the memory takes with this snapshot's new events without an event of their own: the
  // Patient version an admission carried (a later snapshot repeating it is no update).
  std::vector<std::string> remember;
};

struct Mapped {
  int status = 200;  // 200 (taken), or the error status of the whole request (400, 415, 422)
  enum class Kind { kEncounter, kTransaction, kBatch } kind = Kind::kEncounter;
  std::vector<Issue> issues;  // request-level errors
  std::vector<EncounterResult> encounters;
  bool ok() const { return status < 300; }
};

// The listener's memory (snapshot.h): whether (episode, event id) was made before. An admission
// already made needs no patient data again, so a later snapshot may come without its Patient.
// Without one (the dry run) every snapshot must carry everything.
using Known = std::function<bool(const std::string& episode_id, const std::string& event_id)>;

// POST /fhir/Encounter (url_id empty) or PUT /fhir/Encounter/{url_id}: one Encounter resource.
Mapped map_encounter(std::string_view body, const SenderConfig& config,
                     std::string_view url_id = {}, const Known& known = nullptr);
// POST /fhir: a transaction or batch Bundle. A transaction is all or nothing: one bad entry fails
// it (the entry's issues, at its position). A batch answers each entry on its own.
Mapped map_bundle(std::string_view body, const SenderConfig& config, const Known& known = nullptr);
// What `samordna fhir parse` takes: a Bundle or an Encounter, told apart by resourceType.
Mapped map_any(std::string_view body, const SenderConfig& config, const Known& known = nullptr);

// The resource's `meta.source` (R4 Resource.meta.source: the system it came from), for choosing
// the sender's settings (sender_config.h, SenderTable); nullopt when absent or unreadable. Of a
// Bundle, the Bundle's own: one request, one sender.
std::optional<std::string> meta_source(std::string_view body);

}  // namespace samordna::fhir
