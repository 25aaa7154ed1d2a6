#include "connectors/hl7/message.h"

#include <gtest/gtest.h>

#include <string>

namespace samordna::hl7 {
namespace {

constexpr const char* kMsh = "MSH|^~\\&|APP|FAC|SAMORDNA|X|20250310080000||ADT^A01|C1|P|2.5";

Message must_parse(const std::string& bytes, ParseOptions o = {}) {
  auto m = parse(bytes, o);
  EXPECT_TRUE(m) << (m ? "" : m.error().message);
  return m ? std::move(m).value() : Message{};
}

std::string error_of(const std::string& bytes, ParseOptions o = {}) {
  auto m = parse(bytes, o);
  EXPECT_FALSE(m);
  return m ? "" : m.error().message;
}

TEST(Hl7Message, FieldsRepetitionsComponentsSubcomponents) {
  auto m = must_parse(std::string(kMsh) + "\rPID|1||A^^^X&1.2&ISO~B^^^Y||Doe^Jane\r");
  const Segment* pid = m.find("PID");
  ASSERT_NE(pid, nullptr);
  EXPECT_EQ(m.get(*pid, 3, 0, 1), "A");
  EXPECT_EQ(m.get(*pid, 3, 0, 4, 2), "1.2");
  EXPECT_EQ(m.get(*pid, 3, 1, 1), "B");
  EXPECT_EQ(m.get(*pid, 3, 2, 1), "");
  EXPECT_EQ(m.repetitions(*pid, 3), 2U);
  EXPECT_EQ(m.get(*pid, 5, 0, 2), "Jane");
  EXPECT_EQ(m.get("MSH", 9, 0, 2), "A01");
  EXPECT_EQ(m.get("MSH", 10), "C1");
  EXPECT_EQ(m.get("MSH", 2), "^~\\&");
  EXPECT_EQ(m.get("PV1", 2), "");  // absent segment
}

TEST(Hl7Message, SegmentsSplitOnCrLfAndCrlfBlankLinesDropped) {
  auto m = must_parse(std::string(kMsh) + "\r\nEVN|A01\n\nPID|1\r\n \r\n");
  ASSERT_EQ(m.segments().size(), 3U);
  EXPECT_EQ(m.segments()[2].name, "PID");
}

TEST(Hl7Message, EscapeSequences) {
  auto m = must_parse(std::string(kMsh) +
                      "\rPID|1||||Smith\\F\\\\S\\\\R\\\\E\\\\T\\|\\H\\x\\N\\|\\X41\\");
  EXPECT_EQ(m.get("PID", 5), "Smith|^~\\&");
  EXPECT_EQ(m.get("PID", 6), "x");
  EXPECT_EQ(m.get("PID", 7), "A");
  // \X\ holds bytes in the message's charset: UTF-8 here, and not ASCII.
  const std::string utf8 =
      "MSH|^~\\&|A|B|C|D|20250310||ADT^A01|C1|P|2.5|||||SE|UNICODE UTF-8\rPID|1||||\\XC3A5\\";
  EXPECT_EQ(must_parse(utf8).get("PID", 5), "\xC3\xA5");
  EXPECT_EQ(error_of(std::string(kMsh) + "\rPID|1||||\\XC3A5\\"),
            "PID-5 (segment 2): unknown or malformed escape sequence");
}

TEST(Hl7Message, UnknownAndUnterminatedEscapesAreReportedByPosition) {
  EXPECT_EQ(error_of(std::string(kMsh) + "\rPID|1||||Smith\\Q\\"),
            "PID-5 (segment 2): unknown or malformed escape sequence");
  EXPECT_EQ(error_of(std::string(kMsh) + "\rZZ1|BSV 4\\5 re."),
            "ZZ1-1 (segment 2): unterminated escape sequence");
}

TEST(Hl7Message, ExplicitNull) {
  auto m = must_parse(std::string(kMsh) + "\rPID|1||\"\"|x");
  const Segment* pid = m.find("PID");
  EXPECT_TRUE(m.is_null(*pid, 3));
  EXPECT_EQ(m.get(*pid, 3), "");
  EXPECT_FALSE(m.is_null(*pid, 4));
}

TEST(Hl7Message, Charsets) {
  const std::string latin1 =
      "MSH|^~\\&|A|B|C|D|20250310||ADT^A01|C1|P|2.5|||||SE|8859/1\rPID|1||||\xC5sa";
  EXPECT_EQ(must_parse(latin1).get("PID", 5), "\xC3\x85sa");  // Å
  const std::string utf8 =
      "MSH|^~\\&|A|B|C|D|20250310||ADT^A01|C1|P|2.5|||||SE|UNICODE UTF-8\rPID|1||||\xC3\x85sa";
  EXPECT_EQ(must_parse(utf8).get("PID", 5), "\xC3\x85sa");
  const std::string bad_utf8 =
      "MSH|^~\\&|A|B|C|D|20250310||ADT^A01|C1|P|2.5|||||SE|UNICODE UTF-8\rPID|1||||\xC5sa";
  EXPECT_EQ(error_of(bad_utf8), "segment 2 (PID): bytes not valid in the message's character set");
  // MSH-18 empty: ASCII by the standard, unless the sender is configured otherwise.
  const std::string plain = std::string(kMsh) + "\rPID|1||||\xC5sa";
  EXPECT_FALSE(parse(plain));
  ParseOptions o;
  o.default_charset = Charset::kLatin1;
  EXPECT_EQ(must_parse(plain, o).get("PID", 5), "\xC3\x85sa");
  EXPECT_EQ(error_of("MSH|^~\\&|A|B|C|D|20250310||ADT^A01|C1|P|2.5|||||SE|EBCDIC"),
            "MSH-18: unsupported character set (supported: empty, ASCII, 8859/1, UNICODE UTF-8)");
}

TEST(Hl7Message, ErrorsNeverQuoteValues) {
  // A personnummer in a broken field: the error names the position only.
  auto e = error_of(std::string(kMsh) + "\rPID|1||191212121212\\Z");
  EXPECT_EQ(e.find("1912"), std::string::npos);
}

TEST(Hl7Message, StrictHeader) {
  EXPECT_EQ(error_of("EVN|A01"), "does not start with MSH");
  EXPECT_EQ(error_of("MSH|^~\\\\&|A"),
            "MSH-2: encoding characters must be distinct non-alphanumeric characters");
  EXPECT_EQ(error_of("MSH|^~|A"), "MSH-2: encoding characters must be 4 (or 5) characters");
  EXPECT_EQ(error_of("MSHA^~\\&|A"), "MSH-1: invalid field separator");
  EXPECT_EQ(error_of("MSH|^~\\&|A|B"), "MSH: fewer fields than MSH-12 (version id)");
  EXPECT_EQ(error_of(std::string(kMsh) + "\rpid|1"), "segment 2: not a segment (name)");
  EXPECT_EQ(error_of(std::string(kMsh) + "\rPID|1\x01"), "segment 2 (PID): control character");
  EXPECT_EQ(error_of(std::string(kMsh) + "\r" + kMsh),
            "segment 2 (MSH): one message per parse (batches are not read)");
  ParseOptions small;
  small.max_message_bytes = 10;
  EXPECT_EQ(error_of(kMsh, small), "message larger than 10 bytes");
}

TEST(Hl7Message, EscapeRoundTrips) {
  Delimiters d;
  std::string text = "a|b^c~d\\e&f";
  auto m = must_parse(std::string(kMsh) + "\rNTE|1||" + escape(text, d));
  EXPECT_EQ(m.get("NTE", 3), text);
}

}  // namespace
}  // namespace samordna::hl7
