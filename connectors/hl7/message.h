#pragma once

// An HL7 v2 message in the ER7 ("pipe") encoding, parsed strictly (connectors/hl7/README.md).
// Parsing reads MSH-1/MSH-2 for the delimiters and MSH-18 for the character set, converts the
// whole message to UTF-8, splits segments on CR (LF and CRLF tolerated, as real senders write
// them), and checks every escape sequence once, so reading a value later cannot fail.
//
// Errors name positions only ("PID-5"), never a value: fields hold names and identity numbers.
// A Message is a plain value; any thread may read it.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.h"

namespace samordna::hl7 {

enum class Charset {
  kAscii,   // MSH-18 empty (the standard's default), or a sender configured so
  kLatin1,  // "8859/1"
  kUtf8,    // "UNICODE UTF-8"
};

struct ParseOptions {
  // The charset of a message whose MSH-18 is empty. The standard says ASCII; many senders mean
  // Latin-1 and say nothing, hence a per-sender setting.
  Charset default_charset = Charset::kAscii;
  std::size_t max_message_bytes = 1 << 20;  // 1 MiB: far above any ADT message
};

struct Delimiters {
  char field = '|';
  char component = '^';
  char repetition = '~';
  char escape = '\\';
  char subcomponent = '&';
};

// One segment; fields[n] is field n in HL7's numbering (fields[0] is the segment name). For MSH,
// fields[1] is the field separator and fields[2] the encoding characters, as the standard counts.
// Values are UTF-8 with escape sequences still in place: read them through Message::get.
struct Segment {
  std::string name;
  std::vector<std::string> fields;
};

class Message {
 public:
  const Delimiters& delimiters() const { return delimiters_; }
  Charset charset() const { return charset_; }
  const std::vector<Segment>& segments() const { return segments_; }

  // The first segment named `name`, or nullptr.
  const Segment* find(std::string_view name) const;

  // The decoded value at field `field`, repetition `rep` (0-based), component `comp` and
  // subcomponent `sub` (1-based), "" when absent. The explicit null `""` reads as "".
  std::string get(const Segment& s, std::size_t field, std::size_t rep = 0, std::size_t comp = 1,
                  std::size_t sub = 1) const;
  // Shorthand for the first segment named `seg`; "" when the segment is absent.
  std::string get(std::string_view seg, std::size_t field, std::size_t rep = 0,
                  std::size_t comp = 1, std::size_t sub = 1) const;
  // True when the value is the explicit null `""` (HL7: "delete the stored value").
  bool is_null(const Segment& s, std::size_t field, std::size_t rep = 0, std::size_t comp = 1,
               std::size_t sub = 1) const;
  std::size_t repetitions(const Segment& s, std::size_t field) const;

 private:
  friend Result<Message> parse(std::string_view bytes, const ParseOptions& options);
  std::string_view raw(const Segment& s, std::size_t field, std::size_t rep, std::size_t comp,
                       std::size_t sub) const;

  Delimiters delimiters_;
  Charset charset_ = Charset::kAscii;
  std::vector<Segment> segments_;
};

// Parses one message. Fails (kInvalidArgument) with the position of the first problem: size,
// MSH, delimiters, charset, segment names, control characters, escape sequences.
Result<Message> parse(std::string_view bytes, const ParseOptions& options = {});

// The charset MSH-18 names, or an error for one we do not read.
Result<Charset> charset_from_msh18(std::string_view value, Charset default_charset);

// Writes `text` with the delimiters escaped (\F\ \S\ \T\ \R\ \E\), for building messages.
std::string escape(std::string_view text, const Delimiters& d);

}  // namespace samordna::hl7
