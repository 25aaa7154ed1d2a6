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
