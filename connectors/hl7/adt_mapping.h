#pragma once

// ADT → samordna.v1.Event: which trigger makes which event, and where each value comes from.
// The table, with the source of every default, is in connectors/hl7/README.md ("The ADT mapping").
// Pure: the same message and configuration always give the same events and the same answer, so a
// resent message yields the same event ids and the engine drops the copy.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/hl7/ack.h"
#include "connectors/hl7/message.h"
#include "samordna/v1/event.pb.h"

namespace samordna::hl7 {

// Per sender (MSH-3/MSH-4); every field has a default, so a sender with no configuration works.
struct SenderConfig {
  ParseOptions parse;
  // Prefix of the episode id (PV1-19 follows it). Empty: MSH-4's namespace id and ":" (MSH-3's when
  // MSH-4 is empty), so two hospitals numbering visits alike do not collide.
  std::string episode_prefix;
  // PV1-2 patient classes that are inpatient care (sluten vård). HL7 table 0004: I = Inpatient.
  std::vector<std::string> inpatient_classes{"I"};
  // PID-3 identifier systems, matched against CX-4 (assigning authority, namespace or universal
  // id).
  std::string personnummer_oid = "1.2.752.129.2.1.3.1";
  std::string samordningsnummer_oid = "1.2.752.129.2.1.3.3";
  // PID-3 systems of a reserve number (personalIdKind RESERVE_NUMBER), used when no personnummer
  // or samordningsnummer is there: the OID of the national reserve number (nationellt
  // reservnummer) and HL7 Sweden's FHIR system for it.
  std::vector<std::string> reserve_number_systems{
      "1.2.752.129.2.1.3.2", "http://electronichealth.se/identifier/nationelltReservnummer"};
  // The component of PID-11 (first repetition) holding the 4-digit kommunkod of the home
  // municipality: 9 = XAD-9 county/parish code.
  std::size_t municipality_component = 9;
  // The 2-digit county code of the region whose rules apply. Empty: the first two digits of the
  // home municipality's kommunkod (which is the county code of that municipality).
  std::string region;
  // PV1-10 hospital services that are psychiatric inpatient care; all others are somatic.
  std::vector<std::string> psychiatric_services;
  // Processing ids (MSH-11.1) taken; others get AR 202.
  std::vector<std::string> processing_ids{"P"};
  // The time zone of timestamps without an offset.
  std::string time_zone = "Europe/Stockholm";
};

// Optional memory the listener provides: the estimate (PV2-9) last sent for an episode, so an A08
// that repeats it makes no event. Without it (the dry run) every A08 carrying PV2-9 makes one.
using PreviousEstimate = std::function<std::optional<std::chrono::sys_seconds>(std::string_view)>;

// Optional memory the listener provides: whether the patient data (the name and address as the
// mapping reads them from PID-5 and PID-11) last sent for an episode, by its admission or an A08,
// is this. An A08 repeating it makes no patientDataUpdated. Without it (the dry run) every A08
// carrying a name or an address makes one.
using SamePatientData =
    std::function<bool(std::string_view episode, std::string_view name, std::string_view address)>;

struct Mapped {
  Outcome outcome;  // the answer (the ACK's MSA-1 and ERR); kAccept with no events
                    // is "taken, nothing for the engine"
  std::vector<samordna::v1::Event> events;
};

Mapped map_adt(const Message& m, const SenderConfig& config,
               const PreviousEstimate& previous = nullptr,
               const SamePatientData& same_patient = nullptr);

// Parses and maps one message: what `samordna hl7 parse` prints and the listener answers. An
// unreadable message gets AR with the parser's reason.
struct Processed {
  Original original;
  Mapped mapped;
};
Processed process(std::string_view bytes, const SenderConfig& config,
                  const PreviousEstimate& previous = nullptr,
                  const SamePatientData& same_patient = nullptr);

// An HL7 timestamp (DTM: YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]) at least to the day; without an
// offset it is local time in `zone`. Fractions of a second are dropped.
Result<std::chrono::sys_seconds> parse_timestamp(std::string_view text, const std::string& zone);

}  // namespace samordna::hl7
