#include "connectors/hl7/message.h"

#include <algorithm>
#include <cctype>

namespace samordna::hl7 {
namespace {

bool is_upper_or_digit(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// A delimiter must be a visible, non-alphanumeric ASCII character.
bool valid_delimiter(char c) {
  auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7F && std::isalnum(u) == 0;
}

// Lines that are only blanks or framing bytes: real senders leave them between segments (an empty
// line from a doubled newline, a stray MLLP start byte, a final line holding a space).
bool blank_line(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\x0B' || c == '\x0C' || c == '\x1C';
  });
}

// Length of the UTF-8 sequence starting at s[i], or 0 when it is not well-formed (overlong forms,
// surrogates and code points above U+10FFFF included).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (b(k) < 0x80 || b(k) > 0xBF) return 0;
  }
  return n;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// Converts bytes in `charset` to UTF-8; false when they are not valid in it.
bool to_utf8(std::string_view in, Charset charset, std::string& out) {
  switch (charset) {
    case Charset::kAscii:
      for (char c : in) {
        if (static_cast<unsigned char>(c) > 0x7F) return false;
      }
      out.append(in);
      return true;
    case Charset::kUtf8:
      if (!valid_utf8(in)) return false;
      out.append(in);
      return true;
    case Charset::kLatin1:
      for (char c : in) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x80) {
          out.push_back(c);
        } else {
          out.push_back(static_cast<char>(0xC0 | (u >> 6)));
          out.push_back(static_cast<char>(0x80 | (u & 0x3F)));
        }
      }
      return true;
  }
  return false;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Decodes one escape sequence's content (between the escape characters) into `out`; false when
// the sequence is not one we know. \H\ and \N\ (highlighting on/off) carry no text.
bool decode_escape(std::string_view seq, const Delimiters& d, Charset charset, std::string& out) {
  if (seq.size() == 1) {
    switch (seq[0]) {
      case 'F':
        out.push_back(d.field);
        return true;
      case 'S':
        out.push_back(d.component);
        return true;
      case 'T':
        out.push_back(d.subcomponent);
        return true;
      case 'R':
        out.push_back(d.repetition);
        return true;
      case 'E':
        out.push_back(d.escape);
        return true;
      case 'H':
      case 'N':
        return true;
      default:
        return false;
    }
  }
  if (seq[0] == 'X' && seq.size() % 2 == 1) {
    std::string bytes;
    for (std::size_t i = 1; i < seq.size(); i += 2) {
      int h = hex_digit(seq[i]), l = hex_digit(seq[i + 1]);
      if (h < 0 || l < 0) return false;
      bytes.push_back(static_cast<char>(h * 16 + l));
    }
    return to_utf8(bytes, charset, out);
  }
  return false;
}

// Decodes `raw` (one subcomponent) into `out`; the reason when an escape sequence is bad.
const char* decode(std::string_view raw, const Delimiters& d, Charset charset, std::string& out) {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != d.escape) {
      out.push_back(raw[i]);
      continue;
    }
    std::size_t end = raw.find(d.escape, i + 1);
    if (end == std::string_view::npos) return "unterminated escape sequence";
    std::string_view seq = raw.substr(i + 1, end - i - 1);
    if (seq.empty()) return "empty escape sequence";
    if (!decode_escape(seq, d, charset, out)) return "unknown or malformed escape sequence";
    i = end;
  }
  return nullptr;
}

std::string_view nth(std::string_view s, char sep, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t p = s.find(sep);
    if (p == std::string_view::npos) return {};
    s.remove_prefix(p + 1);
  }
  return s.substr(0, s.find(sep));
}

std::string position(std::size_t index, const std::string& name) {
  return "segment " + std::to_string(index) + (name.empty() ? "" : " (" + name + ")");
}

}  // namespace

Result<Charset> charset_from_msh18(std::string_view value, Charset default_charset) {
  if (value.empty()) return default_charset;
  if (value == "ASCII") return Charset::kAscii;
  if (value == "8859/1") return Charset::kLatin1;
  if (value == "UNICODE UTF-8") return Charset::kUtf8;
  return fail(Errc::kInvalidArgument,
              "MSH-18: unsupported character set (supported: empty, ASCII, 8859/1, UNICODE UTF-8)");
}

Result<Message> parse(std::string_view bytes, const ParseOptions& options) {
  if (bytes.size() > options.max_message_bytes) {
    return fail(Errc::kInvalidArgument,
                "message larger than " + std::to_string(options.max_message_bytes) + " bytes");
  }
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
  if (bytes.substr(0, 3) != "MSH") return fail(Errc::kInvalidArgument, "does not start with MSH");
  if (bytes.size() < 8) return fail(Errc::kInvalidArgument, "MSH: too short");

  Message m;
  Delimiters& d = m.delimiters_;
  d.field = bytes[3];
  if (!valid_delimiter(d.field))
    return fail(Errc::kInvalidArgument, "MSH-1: invalid field separator");
  std::size_t enc_end = bytes.find(d.field, 4);
  std::string_view enc = bytes.substr(4, enc_end == std::string_view::npos ? 0 : enc_end - 4);
  // Four characters, or five from v2.7 (the truncation character), all distinct delimiters.
  if (enc.size() != 4 && enc.size() != 5) {
    return fail(Errc::kInvalidArgument, "MSH-2: encoding characters must be 4 (or 5) characters");
  }
  std::string all{d.field};
  for (char c : enc) {
    if (!valid_delimiter(c) || all.find(c) != std::string::npos) {
      return fail(Errc::kInvalidArgument,
                  "MSH-2: encoding characters must be distinct non-alphanumeric characters");
    }
    all.push_back(c);
  }
  d.component = enc[0];
  d.repetition = enc[1];
  d.escape = enc[2];
  d.subcomponent = enc[3];

  // Lines on CR, LF or CRLF; blank lines dropped.
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start <= bytes.size();) {
    std::size_t end = bytes.find_first_of("\r\n", start);
    if (end == std::string_view::npos) end = bytes.size();
    std::string_view line = bytes.substr(start, end - start);
    if (!blank_line(line)) lines.push_back(line);
    start = end + 1;
  }

  // MSH-18 (raw, ASCII by definition) before anything is converted.
  std::string_view msh18 = nth(nth(lines[0], d.field, 17), d.repetition, 0);
  SAMORDNA_TRY(charset, charset_from_msh18(msh18, options.default_charset));
  m.charset_ = charset;

  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    std::size_t index = i + 1;
    if (line.size() < 3 || !(line[0] >= 'A' && line[0] <= 'Z') || !is_upper_or_digit(line[1]) ||
        !is_upper_or_digit(line[2]) || (line.size() > 3 && line[3] != d.field)) {
      return fail(Errc::kInvalidArgument, position(index, "") + ": not a segment (name)");
    }
    Segment seg;
    seg.name = std::string(line.substr(0, 3));
    if (i > 0 && (seg.name == "MSH" || seg.name == "BHS" || seg.name == "FHS")) {
      return fail(Errc::kInvalidArgument,
                  position(index, seg.name) + ": one message per parse (batches are not read)");
    }
    for (char c : line) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x20 && c != '\t') {
        return fail(Errc::kInvalidArgument, position(index, seg.name) + ": control character");
      }
    }
    std::string text;
    if (!to_utf8(line, charset, text)) {
      return fail(Errc::kInvalidArgument,
                  position(index, seg.name) + ": bytes not valid in the message's character set");
    }
    std::string_view rest{text};
    seg.fields.emplace_back(seg.name);
    rest.remove_prefix(std::min<std::size_t>(rest.size(), 4));
    if (i == 0) {
      seg.fields.emplace_back(1, d.field);
      seg.fields.emplace_back(enc);
      rest.remove_prefix(std::min(rest.size(), enc.size() + 1));
    }
    if (text.size() > 3) {
      for (;;) {
        std::size_t p = rest.find(d.field);
        seg.fields.emplace_back(rest.substr(0, p));
        if (p == std::string_view::npos) break;
        rest.remove_prefix(p + 1);
      }
    }
    // Every escape sequence once, so reading values later cannot fail.
    for (std::size_t f = (i == 0 ? 3 : 1); f < seg.fields.size(); ++f) {
      std::string scratch;
      std::string_view field = seg.fields[f];
      std::size_t start = 0;
      for (std::size_t k = 0; k <= field.size(); ++k) {
        if (k == field.size() || field[k] == d.component || field[k] == d.repetition ||
            field[k] == d.subcomponent) {
          if (const char* why = decode(field.substr(start, k - start), d, charset, scratch)) {
            return fail(Errc::kInvalidArgument, seg.name + "-" + std::to_string(f) + " (" +
                                                    position(index, "") + "): " + why);
          }
          start = k + 1;
        }
      }
    }
    m.segments_.push_back(std::move(seg));
  }
  if (m.segments_.front().fields.size() < 13) {
    return fail(Errc::kInvalidArgument, "MSH: fewer fields than MSH-12 (version id)");
  }
  return m;
}

const Segment* Message::find(std::string_view name) const {
  for (const auto& s : segments_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string_view Message::raw(const Segment& s, std::size_t field, std::size_t rep,
                              std::size_t comp, std::size_t sub) const {
  if (field >= s.fields.size() || comp == 0 || sub == 0) return {};
  std::string_view v = s.fields[field];
  if (s.name == "MSH" && field <= 2) return rep == 0 && comp == 1 && sub == 1 ? v : "";
  v = nth(v, delimiters_.repetition, rep);
  v = nth(v, delimiters_.component, comp - 1);
  return nth(v, delimiters_.subcomponent, sub - 1);
}

std::string Message::get(const Segment& s, std::size_t field, std::size_t rep, std::size_t comp,
                         std::size_t sub) const {
  std::string_view v = raw(s, field, rep, comp, sub);
  std::string out;
  if (v == "\"\"") return out;
  if (s.name == "MSH" && field <= 2) return std::string(v);
  // Checked at parse time: cannot fail here.
  (void)decode(v, delimiters_, charset_, out);
  return out;
}

std::string Message::get(std::string_view seg, std::size_t field, std::size_t rep, std::size_t comp,
                         std::size_t sub) const {
  const Segment* s = find(seg);
  return s == nullptr ? std::string() : get(*s, field, rep, comp, sub);
}

bool Message::is_null(const Segment& s, std::size_t field, std::size_t rep, std::size_t comp,
                      std::size_t sub) const {
  return raw(s, field, rep, comp, sub) == "\"\"";
}

std::size_t Message::repetitions(const Segment& s, std::size_t field) const {
  if (field >= s.fields.size() || s.fields[field].empty()) return 0;
  const std::string& v = s.fields[field];
  return 1 + static_cast<std::size_t>(std::count(v.begin(), v.end(), delimiters_.repetition));
}

std::string escape(std::string_view text, const Delimiters& d) {
  std::string out;
  for (char c : text) {
    char code = 0;
    if (c == d.field)
      code = 'F';
    else if (c == d.component)
      code = 'S';
    else if (c == d.subcomponent)
      code = 'T';
    else if (c == d.repetition)
      code = 'R';
    else if (c == d.escape)
      code = 'E';
    if (code != 0) {
      out.push_back(d.escape);
      out.push_back(code);
      out.push_back(d.escape);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace samordna::hl7
