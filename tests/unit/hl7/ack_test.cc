#include "connectors/hl7/ack.h"

#include <gtest/gtest.h>

#include <string>

namespace samordna::hl7 {
namespace {

const Instant kNow = from_unix(1741593600);  // 2025-03-10T08:00:00Z

Original original(const std::string& msh) {
  auto m = parse(msh + "\rEVN|A01");
  EXPECT_TRUE(m) << m.error().message;
  return original_of(m.value());
}

TEST(Hl7Ack, OriginalModeAcceptSwapsSenderAndReceiver) {
  auto o = original("MSH|^~\\&|PAS|SUS|SAMORDNA|SE|20250310075959||ADT^A01|MSG1|P|2.5");
  EXPECT_FALSE(enhanced_mode(o));
  EXPECT_EQ(build_ack(o, {}, "ACK1", kNow),
            "MSH|^~\\&|SAMORDNA|SE|PAS|SUS|20250310080000+0000||ACK^A01^ACK|ACK1|P|2.5\r"
            "MSA|AA|MSG1\r");
}

TEST(Hl7Ack, ASenderWhoseEscapeCharacterIsPlusGetsAnAckThatParses) {
  // MSH-2 "^~+&": '+' escapes. The ACK answers in the sender's delimiters, so the '+' of MSH-7's
  // offset must be escaped (found by fuzz_hl7; the ACK did not parse back).
  auto o = original("MSH|^~+&|PAS|SUS|SAMORDNA|SE|20250310075959||ADT^A01|MSG1|P|2.5");
  const std::string ack = build_ack(o, {}, "ACK1", kNow);
  EXPECT_EQ(ack,
            "MSH|^~+&|SAMORDNA|SE|PAS|SUS|20250310080000+E+0000||ACK^A01^ACK|ACK1|P|2.5\r"
            "MSA|AA|MSG1\r");
  auto back = parse(ack);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back.value().get("MSH", 7), "20250310080000+0000");
  EXPECT_EQ(back.value().get("MSA", 2), "MSG1");
}

TEST(Hl7Ack, V25ErrorHasLocationCodeAndSeverity) {
  auto o = original("MSH|^~\\&|PAS|SUS|SAMORDNA|SE|20250310075959||ADT^A01|MSG1|P|2.5.1");
  Outcome out{AckCode::kError, ErrorCode::kRequiredFieldMissing, "visit number PV1-19 is required",
              ErrorLocation{"PV1", 1, 19}};
  EXPECT_EQ(
      build_ack(o, out, "ACK1", kNow),
      "MSH|^~\\&|SAMORDNA|SE|PAS|SUS|20250310080000+0000||ACK^A01^ACK|ACK1|P|2.5.1\r"
      "MSA|AE|MSG1\r"
      "ERR||PV1^1^19|101^Required field missing^HL70357|E||||visit number PV1-19 is required\r");
}

TEST(Hl7Ack, BeforeV25ErrorIsErr1AndMsa3) {
  auto o = original("MSH|^~\\&|PAS|SUS|SAMORDNA|SE|20250310075959||ADT^A40|MSG1|P|2.3");
  Outcome out{AckCode::kReject, ErrorCode::kUnsupportedEventCode, "A40: merge patient", {}};
  EXPECT_EQ(build_ack(o, out, "ACK1", kNow),
            "MSH|^~\\&|SAMORDNA|SE|PAS|SUS|20250310080000+0000||ACK^A40^ACK|ACK1|P|2.3\r"
            "MSA|AR|MSG1|A40: merge patient\r"
            "ERR|^^^201&Unsupported event code&HL70357\r");
}

TEST(Hl7Ack, EnhancedModeUsesCommitCodes) {
  auto o = original("MSH|^~\\&|PAS|SUS|SAMORDNA|SE|20250310075959||ADT^A03|MSG2|P|2.5|||AL|NE");
  EXPECT_TRUE(enhanced_mode(o));
  EXPECT_NE(build_ack(o, {}, "ACK2", kNow).find("\rMSA|CA|MSG2\r"), std::string::npos);
  Outcome late{AckCode::kError, ErrorCode::kApplicationInternalError, "not durable in time", {}};
  EXPECT_NE(build_ack(o, late, "ACK2", kNow).find("MSA|CE|MSG2\r"), std::string::npos);
}

TEST(Hl7Ack, EnhancedModeAcceptAckTypes) {
  auto never = original("MSH|^~\\&|A|B|C|D|20250310||ADT^A01|M|P|2.5|||NE|AL");
  EXPECT_FALSE(ack_wanted(never, AckCode::kAccept));
  EXPECT_FALSE(ack_wanted(never, AckCode::kError));
  auto on_error = original("MSH|^~\\&|A|B|C|D|20250310||ADT^A01|M|P|2.5|||ER|AL");
  EXPECT_FALSE(ack_wanted(on_error, AckCode::kAccept));
  EXPECT_TRUE(ack_wanted(on_error, AckCode::kReject));
  auto original_mode = original("MSH|^~\\&|A|B|C|D|20250310||ADT^A01|M|P|2.5");
  EXPECT_TRUE(ack_wanted(original_mode, AckCode::kAccept));
}

TEST(Hl7Ack, ControlIdAndTextAreEscaped) {
  auto o = original("MSH|^~\\&|A|B|C|D|20250310||ADT^A01|M\\F\\1|P|2.3");
  Outcome out{AckCode::kReject, ErrorCode::kDataType, "a|b", {}};
  EXPECT_NE(build_ack(o, out, "X", kNow).find("MSA|AR|M\\F\\1|a\\F\\b\r"), std::string::npos);
}

TEST(Hl7Ack, UnreadableMessageGetsAnArWithDefaults) {
  Outcome out{AckCode::kReject, ErrorCode::kSegmentSequence, "does not start with MSH", {}};
  EXPECT_EQ(build_ack(unknown_original(), out, "ACK9", kNow),
            "MSH|^~\\&|||||20250310080000+0000||ACK^^ACK|ACK9|P|2.5\r"
            "MSA|AR|\r"
            "ERR|||100^Segment sequence error^HL70357|E||||does not start with MSH\r");
}

TEST(Hl7Ack, VersionLayout) {
  EXPECT_FALSE(err_v25("2.2"));
  EXPECT_FALSE(err_v25("2.3.1"));
  EXPECT_FALSE(err_v25("2.4"));
  EXPECT_TRUE(err_v25("2.5"));
  EXPECT_TRUE(err_v25("2.5.1"));
  EXPECT_TRUE(err_v25("2.7"));
  EXPECT_TRUE(err_v25(""));
  EXPECT_TRUE(err_v25("2.42090926173004"));  // found by fuzz_hl7: no overflow
}

}  // namespace
}  // namespace samordna::hl7

namespace samordna::hl7 {
namespace {

// Found by fuzz_hl7_session: an ACK echoing a non-ASCII byte must be in the message's charset and
// say so (MSH-18), or neither the sender nor our own parser reads it.
TEST(Hl7AckCharset, AnAckEchoingLatin1IsLatin1AndSaysSo) {
  const std::string msg =
      "MSH|^~\\&|PAS|S\xD6S|SAMORDNA|SE|20250310081500||ADT^A02|C1|P|2.5|||||SE|8859/1\r";
  auto m = parse(msg);
  ASSERT_TRUE(m) << m.error().message;
  const std::string ack = build_ack(original_of(m.value()), Outcome{}, "A1", from_unix(0));
  EXPECT_NE(ack.find("|S\xD6S|"), std::string::npos) << ack;
  EXPECT_NE(ack.find("|2.5||||||8859/1\r"), std::string::npos) << ack;
  auto back = parse(ack);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back.value().get("MSH", 6), "S\xC3\x96S");  // read back as UTF-8 "SÖS"

  const std::string utf8 =
      "MSH|^~\\&|PAS|S\xC3\x96S|SAMORDNA|SE|20250310081500||ADT^A02|C1|P|2.5|||||SE|UNICODE "
      "UTF-8\r";
  auto u = parse(utf8);
  ASSERT_TRUE(u);
  const std::string uack = build_ack(original_of(u.value()), Outcome{}, "A1", from_unix(0));
  EXPECT_NE(uack.find("||||||UNICODE UTF-8\r"), std::string::npos) << uack;
  EXPECT_TRUE(parse(uack));
  // An all-ASCII ACK stays as it was: no MSH-18.
  auto a = parse("MSH|^~\\&|PAS|SUS|SAMORDNA|SE|20250310081500||ADT^A02|C1|P|2.5|||||SE|8859/1\r");
  ASSERT_TRUE(a);
  EXPECT_EQ(build_ack(original_of(a.value()), Outcome{}, "A1", from_unix(0)).find("8859"),
            std::string::npos);
}

}  // namespace
}  // namespace samordna::hl7
