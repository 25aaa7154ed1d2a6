#include "engine/core/json_error.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace samordna
