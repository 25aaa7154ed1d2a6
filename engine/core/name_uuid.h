#pragma once
// Name-based UUIDs: the same name always gives the same UUID, so a resource built from a
// notification has one id on every attempt and in every process that derives it.
//
// Used for the resources of the FHIR message Bundle that `samordna deliver` sends
// (connectors/deliver/fhir_message.h) and by `samordna serve` to find the notification a FHIR
// acknowledgement answers (its MessageHeader.response.identifier is the id of our MessageHeader).

#include <string>
#include <string_view>

namespace samordna {

// SHA-256 of name + '\0' + role, laid out as a UUID (RFC 9562 version 8, variant 10), lower-case
// 8-4-4-4-12 hex.
std::string name_uuid(std::string_view name, std::string_view role);

// The id of the MessageHeader of a notification's FHIR message.
inline std::string fhir_message_header_id(std::string_view notification_id) {
  return name_uuid(notification_id, "MessageHeader");
}

}  // namespace samordna
