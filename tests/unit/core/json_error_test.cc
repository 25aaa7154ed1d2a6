#include "engine/core/json_error.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "engine/core/json_codec.h"
#include "engine/core/time.h"
#include "samordna/v1/event.pb.h"

namespace samordna {
namespace {

std::string reason_for(const std::string& line) {
  v1::Event event;
  const auto status = google::protobuf::util::JsonStringToMessage(line, &event);
  EXPECT_FALSE(status.ok()) << line;
  return describe_json_error(line, std::string(status.message()));
}

TEST(JsonError, NamesTheFieldNeverTheValue) {
  const std::string reason =
      reason_for(R"({"eventId":"e","admitted":{"careType":"Karin Malmström 195704289999"}})");
  EXPECT_EQ(reason, "invalid value for field admitted.careType");
}

TEST(JsonError, TimestampsAndRepeatedFieldsAreLocated) {
  EXPECT_EQ(reason_for(R"({"occurredAt":"Storgatan 1, 753 20 Uppsala"})"),
            "invalid value for field occurredAt");
  EXPECT_EQ(reason_for(R"({"needsAssessed":{"needs":["HOME_CARE"]}})"),
            "invalid value for field needsAssessed.needs[0]");
}

TEST(JsonError, UnknownFieldsAreNamedOnlyWhenTheyLookLikeSchema) {
  EXPECT_EQ(reason_for(R"({"ward":"7"})"), "unknown field ward");
  EXPECT_EQ(reason_for(R"({"Karin Malmström":"7"})"), "unknown field");
}

TEST(JsonError, SyntaxErrorsGiveAPositionOnly) {
  EXPECT_EQ(reason_for(R"({"eventId": 195704289999)"), "not valid JSON (at byte 25)");
}

// A number no double can hold ends nlohmann's DOM parser with out_of_range, not parse_error; it
// must still be a reason (not an exception that ends the run) and must not quote the number, which
// may be an identity number.
TEST(JsonError, NumbersTooLargeForADoubleAreLocatedNotQuoted) {
  for (const std::string line :
       {R"({"eventId":1e309})", R"({"eventId":"e","granted":191212121212e99999})",
        R"({"eventId":-191212121212e99999})"}) {
    std::string reason;
    EXPECT_NO_THROW(reason = reason_for(line)) << line;
    EXPECT_THAT(reason, ::testing::StartsWith("a number too large")) << line;
    EXPECT_THAT(reason, ::testing::Not(::testing::HasSubstr("1212"))) << reason;
    EXPECT_THAT(reason, ::testing::Not(::testing::HasSubstr("e309"))) << reason;
  }
}

TEST(JsonError, AFiftyMillionDigitIntegerIsARejectionWithoutEcho) {
  std::string line = R"({"eventId":"e","episodeId":)";
  line.append(50'000'000, '7');
  line += "}";
  std::string reason;
  EXPECT_NO_THROW(reason = reason_for(line));
  EXPECT_LT(reason.size(), 100u);
  EXPECT_THAT(reason, ::testing::Not(::testing::HasSubstr("777")));
}

// A key that is an identity number (or holds one) is data, not schema: never repeated.
TEST(JsonError, UnknownFieldsWithDigitsAreNotNamed) {
  EXPECT_EQ(reason_for(R"({"195704289999":"7"})"), "unknown field");
  EXPECT_EQ(reason_for(R"({"p195704289999":"7"})"), "unknown field");
  EXPECT_EQ(reason_for(R"({"pnr_19570428_9999":"7"})"), "unknown field");
  EXPECT_EQ(reason_for(R"({"admitted":{"x195704289999":"7"}})"), "unknown field");
}

// Instants outside 0001..9999 after their offset cannot be printed again: refused at parse time.
TEST(JsonCodec, InstantsOutsideYears1To9999AreRefused) {
  JsonCodec codec;
  for (const std::string line :
       {R"({"occurredAt":"9999-12-31T23:59:59-23:59"})",
        R"({"recordedAt":"0001-01-01T00:00:00+00:01"})",
        R"({"needsAssessed":{"estimatedDischargeAt":"9999-12-31T23:59:59-00:01"}})"}) {
    v1::Event event;
    std::string message;
    EXPECT_FALSE(codec.parse(line, event, message)) << line;
    EXPECT_THAT(describe_json_error(line, message),
                ::testing::StartsWith("invalid value for field "))
        << line;
  }
  v1::Event event;
  std::string message;
  EXPECT_TRUE(codec.parse(R"({"occurredAt":"9999-12-31T23:59:59+01:00"})", event, message))
      << message;
  EXPECT_EQ(describe_json_error(
                R"({"needsAssessed":{"estimatedDischargeAt":"9999-12-31T23:59:59-00:01"}})",
                "(needs_assessed.estimated_discharge_at): out of range"),
            "invalid value for field needsAssessed.estimatedDischargeAt");
}

// print() never leaves half a line behind.
TEST(JsonCodec, PrintOfAnUnprintableMessageFailsWholly) {
  JsonCodec codec;
  v1::Event event;
  event.set_event_id("e");
  event.mutable_occurred_at()->set_seconds(kMaxTimestampSeconds + 1);
  std::string out = "before";
  EXPECT_FALSE(codec.print(event, out));
  EXPECT_EQ(out, "before");
}

}  // namespace
}  // namespace samordna
