#include "connectors/hl7/ack.h"

#include <date/date.h>

#include <algorithm>

namespace samordna::hl7 {

const char* error_text(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNone:
      return "Message accepted";
    case ErrorCode::kSegmentSequence:
      return "Segment sequence error";
    case ErrorCode::kRequiredFieldMissing:
      return "Required field missing";
    case ErrorCode::kDataType:
      return "Data type error";
    case ErrorCode::kTableValueNotFound:
      return "Table value not found";
    case ErrorCode::kUnsupportedMessageType:
      return "Unsupported message type";
    case ErrorCode::kUnsupportedEventCode:
      return "Unsupported event code";
    case ErrorCode::kUnsupportedProcessingId:
      return "Unsupported processing id";
    case ErrorCode::kUnsupportedVersionId:
      return "Unsupported version id";
    case ErrorCode::kUnknownKeyIdentifier:
      return "Unknown key identifier";
    case ErrorCode::kDuplicateKeyIdentifier:
      return "Duplicate key identifier";
    case ErrorCode::kApplicationRecordLocked:
      return "Application record locked";
    case ErrorCode::kApplicationInternalError:
      return "Application internal error";
  }
  return "Application internal error";
}

namespace {

// An ACK echoing a non-ASCII byte (the parser made everything UTF-8) goes back in the message's
// charset, named in the ACK's MSH-18, so the sender and our own parser read it as sent. Found by
// fuzz_hl7_session: a Latin-1 message whose MSH-12 held a non-ASCII byte got an ACK in UTF-8
// without MSH-18, which the standard reads as ASCII.
std::string in_charset(std::string ack, Charset charset, char field) {
  if (std::all_of(ack.begin(), ack.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
    return ack;
  }
  const std::string label = charset == Charset::kLatin1 ? "8859/1" : "UNICODE UTF-8";
  const auto end_of_msh = ack.find('\r');
  ack.insert(end_of_msh, std::string(6, field) + label);
  if (charset != Charset::kLatin1) return ack;
  std::string out;
  out.reserve(ack.size());
  for (size_t i = 0; i < ack.size(); ++i) {
    const auto c = static_cast<unsigned char>(ack[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < ack.size()) {
      out += static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(ack[++i]) & 0x3F));
    } else {
      // Beyond Latin-1 (cannot come from a Latin-1 message): one '?' per code point.
      out += '?';
      while (i + 1 < ack.size() && (static_cast<unsigned char>(ack[i + 1]) & 0xC0) == 0x80) ++i;
    }
  }
  return out;
}

}  // namespace

Original original_of(const Message& m) {
  Original o;
  const Segment& msh = m.segments().front();
  auto raw = [&](std::size_t n) { return n < msh.fields.size() ? msh.fields[n] : std::string(); };
  o.delimiters = m.delimiters();
  o.encoding_characters = raw(2);
  o.sending_application = raw(3);
  o.sending_facility = raw(4);
  o.receiving_application = raw(5);
  o.receiving_facility = raw(6);
  o.trigger = m.get(msh, 9, 0, 2);
  o.control_id = m.get(msh, 10);
  o.processing_id = raw(11);
  o.version = m.get(msh, 12);
  o.accept_ack_type = m.get(msh, 15);
  o.application_ack_type = m.get(msh, 16);
  o.charset = m.charset();
  return o;
}

Original unknown_original() { return Original{}; }

bool enhanced_mode(const Original& o) {
  return !o.accept_ack_type.empty() || !o.application_ack_type.empty();
}

bool ack_wanted(const Original& o, AckCode code) {
  if (!enhanced_mode(o)) return true;
  const std::string& t = o.accept_ack_type;
  if (t == "NE") return false;
  if (t == "ER") return code != AckCode::kAccept;
  if (t == "SU") return code == AckCode::kAccept;
  return true;  // AL, or empty with MSH-16 set: HL7 reads empty MSH-15 as AL in enhanced mode
}

bool err_v25(std::string_view version) {
  // "2.3", "2.3.1", "2.5", "2.5.1", "2.7": compare major.minor; anything unreadable is treated as
  // current (the v2.5 layout).
  if (version.size() < 3 || version[0] < '2' || version[0] > '9' || version[1] != '.') return true;
  if (version[0] > '2') return true;
  std::size_t i = 2;
  int minor = 0;
  while (i < version.size() && version[i] >= '0' && version[i] <= '9') {
    if (minor < 100)
      minor = minor * 10 + (version[i] - '0');  // bounded: "2.42090926..." (fuzz_hl7)
    ++i;
  }
  return i == 2 || minor >= 5;
}

std::string build_ack(const Original& o, const Outcome& outcome, std::string_view control_id,
                      Instant now) {
  const Delimiters& d = o.delimiters;
  const bool enhanced = enhanced_mode(o);
  const char* code = nullptr;
  switch (outcome.code) {
    case AckCode::kAccept:
      code = enhanced ? "CA" : "AA";
      break;
    case AckCode::kError:
      code = enhanced ? "CE" : "AE";
      break;
    case AckCode::kReject:
      code = enhanced ? "CR" : "AR";
      break;
  }
  auto esc = [&](std::string_view s) { return escape(s, d); };
  const std::string f(1, d.field);
  std::string ack = "MSH" + f + o.encoding_characters;
  ack += f + o.receiving_application + f + o.receiving_facility;
  ack += f + o.sending_application + f + o.sending_facility;
  // The offset's '+' is escaped too: a sender may have chosen '+' as its escape character (the
  // ACK answers in the sender's delimiters), and fuzz_hl7 found the ACK then did not parse.
  ack += f + esc(date::format("%Y%m%d%H%M%S", now) + "+0000");
  ack += f;  // MSH-8 security
  ack += f + "ACK" + d.component + esc(o.trigger) + d.component + "ACK";
  ack += f + esc(control_id) + f + o.processing_id + f + esc(o.version) + '\r';

  const bool v25 = err_v25(o.version);
  ack += "MSA" + f + code + f + esc(o.control_id);
  // MSA-3 (text) was withdrawn in v2.5 in favour of ERR; older receivers read it.
  if (!v25 && !outcome.text.empty()) ack += f + esc(outcome.text);
  ack += '\r';

  const bool has_error = outcome.code != AckCode::kAccept || outcome.error != ErrorCode::kNone;
  if (v25 && (has_error || !outcome.text.empty())) {
    // ERR-2 location (ERL), ERR-3 error code (CWE, table 0357), ERR-4 severity, ERR-8 user text.
    std::string location;
    if (outcome.location) {
      location =
          outcome.location->segment + d.component + std::to_string(outcome.location->sequence);
      if (outcome.location->field > 0) {
        location += d.component + std::to_string(outcome.location->field);
      }
    }
    const auto err = outcome.error;
    ack += "ERR" + f + f + location + f + std::to_string(static_cast<int>(err)) + d.component +
           esc(error_text(err)) + d.component + "HL70357" + f +
           (outcome.code == AckCode::kAccept ? "I" : "E") + f + f + f + f + esc(outcome.text) +
           '\r';
  } else if (!v25 && has_error) {
    // ERR-1 (ELD): segment^sequence^field^code&text&HL70357.
    std::string eld;
    if (outcome.location) {
      eld = outcome.location->segment + d.component + std::to_string(outcome.location->sequence) +
            d.component +
            (outcome.location->field > 0 ? std::to_string(outcome.location->field) : "");
    } else {
      eld = std::string(2, d.component);
    }
    eld += d.component + std::to_string(static_cast<int>(outcome.error)) + d.subcomponent +
           esc(error_text(outcome.error)) + d.subcomponent + "HL70357";
    ack += "ERR" + f + eld + '\r';
  }
  return in_charset(std::move(ack), o.charset, d.field);
}

}  // namespace samordna::hl7
