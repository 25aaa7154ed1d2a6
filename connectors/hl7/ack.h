#pragma once

// The acknowledgement a sender gets (connectors/hl7/README.md, "Acknowledgements"): original mode
// (MSA-1 AA/AE/AR) when the message leaves MSH-15 and MSH-16 empty, enhanced mode (CA/CE/CR, the
// commit acknowledgement: the events are durable) when it sets either. The ERR segment follows
// the message's version: ERR-2 location, ERR-3 code from HL7 table 0357, ERR-4 severity from v2.5,
// ERR-1 (segment^sequence^field^code) before it.
//
// Pure functions; texts in an ACK name positions and rules, never a value from the message.

#include <optional>
#include <string>
#include <string_view>

#include "connectors/hl7/message.h"
#include "engine/core/time.h"

namespace samordna::hl7 {

enum class AckCode {
  kAccept,  // AA / CA
  kError,   // AE / CE: a processing error; the sender may resend (e.g. not durable in time)
  kReject,  // AR / CR: the message itself is refused (unsupported type, version; unreadable)
};

// HL7 table 0357 (message error condition codes).
enum class ErrorCode {
  kNone = 0,  // "Message accepted"
  kSegmentSequence = 100,
  kRequiredFieldMissing = 101,
  kDataType = 102,
  kTableValueNotFound = 103,
  kUnsupportedMessageType = 200,
  kUnsupportedEventCode = 201,
  kUnsupportedProcessingId = 202,
  kUnsupportedVersionId = 203,
  kUnknownKeyIdentifier = 204,
  kDuplicateKeyIdentifier = 205,
  kApplicationRecordLocked = 206,
  kApplicationInternalError = 207,
};
const char* error_text(ErrorCode code);  // the table's own wording

struct ErrorLocation {
  std::string segment;  // "PID"
  int sequence = 1;     // the segment's occurrence, 1-based
  int field = 0;        // 0: the whole segment
};

// What the engine says about a message; the ACK is built from it.
struct Outcome {
  AckCode code = AckCode::kAccept;
  ErrorCode error = ErrorCode::kNone;
  std::string text;  // why (no values from the message); empty on a plain accept
  std::optional<ErrorLocation> location;
};

// The parts of the original MSH an ACK echoes; raw (still escaped) where they are copied.
struct Original {
  Delimiters delimiters;
  std::string encoding_characters = "^~\\&";
  std::string sending_application, sending_facility;      // MSH-3, MSH-4 (raw)
  std::string receiving_application, receiving_facility;  // MSH-5, MSH-6 (raw)
  std::string trigger;                                    // MSH-9.2, decoded
  std::string control_id;                                 // MSH-10, decoded
  std::string processing_id = "P";                        // MSH-11 (raw)
  std::string version = "2.5";                            // MSH-12.1
  std::string accept_ack_type;                            // MSH-15: AL, NE, ER, SU or empty
  std::string application_ack_type;                       // MSH-16
  // The message's charset (MSH-18): an ACK that echoes a non-ASCII byte (a facility "SÖS") is
  // written in it and says so in its own MSH-18; an all-ASCII ACK leaves MSH-18 empty.
  Charset charset = Charset::kAscii;
};

Original original_of(const Message& m);
// What an ACK to an unreadable message echoes: nothing of it (HL7 v2.5 defaults).
Original unknown_original();

bool enhanced_mode(const Original& o);
// Enhanced mode's MSH-15 may ask for no commit ACK (NE), one only on error (ER) or only on
// success (SU); original mode always answers.
bool ack_wanted(const Original& o, AckCode code);
// True for versions 2.5 and later (ERR-2..4 layout), false before.
bool err_v25(std::string_view version);

// The ACK message, segments ended by CR, without MLLP framing. `control_id` is the ACK's own
// MSH-10.
std::string build_ack(const Original& o, const Outcome& outcome, std::string_view control_id,
                      Instant now);

}  // namespace samordna::hl7
