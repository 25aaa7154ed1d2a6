#pragma once

// A notification as a FHIR R4 message Bundle (format `fhir`): MessageHeader, Encounter and, for the
// notices that carry the patient, Patient. Modelled on Denmark's MedCom HospitalNotification
// (a message Bundle whose MessageHeader's focus is the Encounter, the Encounter pointing at the
// Patient), not conforming to it: the codes are samordna's, and the content is what Lag
// (2017:612) requires of the notice and nothing more (connectors/deliver/README.md, "Formats").
//
// Deterministic: the same notification gives the same bytes (resource ids are derived from the
// notification id), so the body and its signature input are the same on every attempt.
// Pure; thread-safe.

#include <optional>
#include <string>

#include "samordna/v1/notification.pb.h"

namespace samordna::deliver {

// The Bundle as compact JSON; nullopt when a timestamp cannot be printed (out of range).
std::optional<std::string> fhir_message(const v1::Notification& notification);

// The CodeSystem of MessageHeader.eventCoding: the notification kinds by their JSON names.
inline constexpr const char* kFhirEventSystem =
    "https://samordna.se/fhir/CodeSystem/notification-kind";

}  // namespace samordna::deliver
