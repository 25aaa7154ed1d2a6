#include "connectors/deliver/fhir_message.h"

#include <nlohmann/json.hpp>

#include <array>

#include "connectors/deliver/config.h"
#include "engine/core/name_uuid.h"
#include "engine/core/time.h"

namespace samordna::deliver {
namespace {

using nlohmann::json;

// The identifier systems of Swedish HL7 FHIR (HL7 Sweden's basic profiles): personnummer,
// samordningsnummer, the national reserve number; HSA ids for units; kommunkod.
constexpr const char* kPersonnummer = "http://electronichealth.se/identifier/personnummer";
constexpr const char* kSamordningsnummer =
    "http://electronichealth.se/identifier/samordningsnummer";
constexpr const char* kReserve = "http://electronichealth.se/identifier/nationelltReservnummer";
constexpr const char* kUnitSystem = "urn:oid:1.2.752.29.4.19";               // HSA-id
constexpr const char* kMunicipalitySystem = "urn:oid:1.2.752.129.2.2.1.18";  // kommunkod
constexpr const char* kEpisodeSystem = "https://samordna.se/fhir/NamingSystem/episode-id";
constexpr const char* kNotificationSystem = "https://samordna.se/fhir/NamingSystem/notification-id";

bool time_of(const google::protobuf::Timestamp& t, std::string& out) {
  if (t.seconds() == 0 && t.nanos() == 0) return false;
  if (t.seconds() < -62135596800LL || t.seconds() > 253402300799LL) throw std::out_of_range("t");
  out = format_utc(from_unix(t.seconds()));
  return true;
}

json unit_reference(const std::string& unit, const char* system) {
  return json{{"identifier", {{"system", system}, {"value", unit}}}};
}

json organisation_reference(const v1::Organisation& o) {
  return unit_reference(
      o.id(), o.kind() == v1::Organisation::MUNICIPALITY ? kMunicipalitySystem : kUnitSystem);
}

json patient_resource(const v1::Patient& p, const std::string& id) {
  json r = {{"resourceType", "Patient"}, {"id", id}};
  if (!p.personal_id().empty()) {
    const char* system = kPersonnummer;
    if (p.personal_id_kind() == v1::Patient::RESERVE_NUMBER) {
      system = kReserve;
    } else if (p.personal_id().size() == 12 && p.personal_id()[6] >= '6') {
      system = kSamordningsnummer;  // day of birth + 60
    }
    r["identifier"] = json::array({{{"system", system}, {"value", p.personal_id()}}});
  }
  if (!p.name().empty()) r["name"] = json::array({{{"text", p.name()}}});
  if (!p.address().empty()) {
    json address = {{"use", "home"}, {"text", p.address()}};
    if (!p.home_municipality().empty()) {
      address["district"] = p.home_municipality();
    }
    r["address"] = json::array({address});
  }
  return r;
}

}  // namespace

std::optional<std::string> fhir_message(const v1::Notification& n) {
  try {
    const std::string& nid = n.notification_id();
    // Every resource id is a name-based UUID of the notification id: the same on every attempt,
    // unique per notification; the MessageHeader's is what acknowledgements answer.
    const std::string header_id = fhir_message_header_id(nid);
    const std::string encounter_id = name_uuid(nid, "Encounter");
    const std::string patient_id = name_uuid(nid, "Patient");
    std::string issued;
    if (!time_of(n.issued_at(), issued)) issued = "1970-01-01T00:00:00Z";

    const v1::Patient* patient = nullptr;
    std::string care_unit;
    json encounter = {
        {"resourceType", "Encounter"},
        {"id", encounter_id},
        {"identifier", json::array({{{"system", kEpisodeSystem}, {"value", n.episode_id()}}})},
        {"status", "in-progress"},
        {"class",
         {{"system", "http://terminology.hl7.org/CodeSystem/v3-ActCode"},
          {"code", "IMP"},
          {"display", "inpatient encounter"}}}};
    std::string t;
    switch (n.kind_case()) {
      case v1::Notification::kAdmissionNotice: {
        const auto& a = n.admission_notice();
        patient = &a.patient();
        care_unit = a.care_unit();
        if (time_of(a.admitted_at(), t)) encounter["period"] = {{"start", t}};
        if (time_of(a.estimated_discharge_at(), t)) {
          encounter["extension"] = json::array(
              {{{"url", "https://samordna.se/fhir/StructureDefinition/estimated-discharge"},
                {"valueDateTime", t}}});
        }
        break;
      }
      case v1::Notification::kDischargeReadyNotice: {
        const auto& d = n.discharge_ready_notice();
        patient = &d.patient();
        care_unit = d.care_unit();
        if (time_of(d.declared_at(), t)) {
          encounter["extension"] = json::array(
              {{{"url", "https://samordna.se/fhir/StructureDefinition/discharge-ready-at"},
                {"valueDateTime", t}}});
        }
        break;
      }
      case v1::Notification::kEstimatedDischargeUpdate:
        if (time_of(n.estimated_discharge_update().estimated_discharge_at(), t)) {
          encounter["extension"] = json::array(
              {{{"url", "https://samordna.se/fhir/StructureDefinition/estimated-discharge"},
                {"valueDateTime", t}}});
        }
        break;
      case v1::Notification::kAdmissionCancellation:
        encounter["status"] = "cancelled";
        break;
      default:
        break;
    }
    if (!care_unit.empty()) encounter["serviceProvider"] = unit_reference(care_unit, kUnitSystem);
    if (patient != nullptr) {
      encounter["subject"] = {{"reference", "urn:uuid:" + patient_id}};
    }

    json destinations = json::array();
    for (const auto& o : n.addressees()) {
      destinations.push_back({{"name", organisation_text(o)},
                              {"endpoint", "urn:samordna:organisation:" + organisation_text(o)},
                              {"receiver", organisation_reference(o)}});
    }
    json header = {
        {"resourceType", "MessageHeader"},
        {"id", header_id},
        {"eventCoding", {{"system", kFhirEventSystem}, {"code", notification_kind(n)}}},
        {"destination", destinations},
        {"source", {{"name", "samordna"}, {"endpoint", "urn:samordna"}}},
        {"focus", json::array({{{"reference", "urn:uuid:" + encounter_id}}})},
    };
    json entries =
        json::array({{{"fullUrl", "urn:uuid:" + header_id}, {"resource", header}},
                     {{"fullUrl", "urn:uuid:" + encounter_id}, {"resource", encounter}}});
    if (patient != nullptr) {
      entries.push_back({{"fullUrl", "urn:uuid:" + patient_id},
                         {"resource", patient_resource(*patient, patient_id)}});
    }
    json bundle = {{"resourceType", "Bundle"},
                   {"id", name_uuid(nid, "Bundle")},
                   {"identifier", {{"system", kNotificationSystem}, {"value", nid}}},
                   {"type", "message"},
                   {"timestamp", issued},
                   {"entry", entries}};
    return bundle.dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (const std::exception&) {  // a time out of range, a json failure: not printable
    return std::nullopt;
  }
}

}  // namespace samordna::deliver
