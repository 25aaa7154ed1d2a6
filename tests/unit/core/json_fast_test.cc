// The JSON codec's fast path against protobuf's converter: for every line the fast path takes, the
// same message; for every line it leaves, the converter's answer; for every message it prints, the
// same bytes.

#include "engine/core/json_fast.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/core/json_codec.h"
#include "samordna/v1/event.pb.h"
#include "samordna/v1/notification.pb.h"

namespace samordna {
namespace {

struct Parsed {
  bool ok = false;
  std::string message;  // the parser's message, or the event's binary
};

Parsed parse_with(JsonCodec& codec, const std::string& line) {
  v1::Event event;
  Parsed p;
  p.ok = codec.parse(line, event, p.message);
  if (p.ok) p.message = event.SerializeAsString();
  return p;
}

// Both paths agree on `line`; returns whether the fast path itself took it.
bool same_parse(const std::string& line) {
  JsonCodec fast, converter(JsonCodec::Path::kConverterOnly);
  const Parsed a = parse_with(fast, line);
  const Parsed b = parse_with(converter, line);
  EXPECT_EQ(a.ok, b.ok) << line;
  EXPECT_EQ(a.message, b.message) << line;
  v1::Event event;
  return json_fast::Reader().parse(line, event);
}

const std::vector<std::string> kTaken = {
    R"({"eventId":"ep-000001-1","episodeId":"ep-000001","occurredAt":"2024-12-31T23:47:18Z","admitted":{"patient":{"personalId":"196510309864","name":"Ida Engström","address":"Storgatan 55, 786 68 Borlänge","homeMunicipality":"2081"},"careUnit":"SYN20-AVD003","region":"20","careType":"SOMATIC"}})",
    R"({"eventId":"e","episodeId":"x","occurredAt":"2025-01-01T08:00:00Z","needsAssessed":{"needs":["SOCIAL_SERVICES","OUTPATIENT_CARE"],"outpatientUnit":"SYN0180-VC01","estimatedDischargeAt":"2025-01-04T10:00:00Z"}})",
    R"({"eventId":"e","episodeId":"x","occurredAt":"2025-01-01T08:00:00.5Z","recordedAt":"2025-01-01T09:00:00.123456789Z","dischargeReady":{}})",
    R"({"eventId":"e","episodeId":"x","occurredAt":"2024-02-29T23:59:59.000001Z","consentRecorded":{"scope":"SIP","granted":false}})",
    R"({"eventId":"e","episodeId":"x","occurredAt":"0001-01-01T00:00:00Z","consentRecorded":{"scope":"INFORMATION_SHARING","granted":true}})",
    R"({"event_id":"e","episode_id":"x","occurred_at":"9999-12-31T23:59:59.999999999Z","outpatient_services_unavailable":{"unavailable":true}})",
    R"( { "eventId" : "e" , "noticeAcknowledged" : { "notificationId" : "n", "by" : {"kind":"MUNICIPALITY","id":"0180"}, "person" : "p" } } )",
    R"({"discharged":{"reason":"Hem <med> hemtjänst & \"x\""}})",  // has a backslash: left
    R"({})",
    R"({"careContactAppointed":{"unit":"SYN0180-VC01"},"source":"hl7"})",
};

TEST(JsonFast, TakesPlainLinesAsTheConverterReadsThem) {
  int taken = 0;
  for (const auto& line : kTaken) taken += same_parse(line) ? 1 : 0;
  EXPECT_EQ(taken, static_cast<int>(kTaken.size()) - 1);  // all but the escaped one
}

TEST(JsonFast, LeavesEveryOtherLineToTheConverter) {
  const std::vector<std::string> left = {
      R"({"eventId":"e","eventId":"f"})",                     // twice
      R"({"admitted":{},"discharged":{}})",                   // two of a oneof
      R"({"eventId":null})",                                  // null
      R"({"eventID":"e"})",                                   // unknown
      R"({"occurredAt":"2025-01-01T08:00:00+01:00"})",        // offset
      R"({"occurredAt":"2025-02-29T08:00:00Z"})",             // no such day
      R"({"occurredAt":"2025-01-01T24:00:00Z"})",             // no such hour
      R"({"occurredAt":"2025-01-01T08:00:60Z"})",             // leap second
      R"({"occurredAt":"0000-01-01T00:00:00Z"})",             // year 0
      R"({"occurredAt":"2025-01-01T08:00:00.Z"})",            // empty fraction
      R"({"occurredAt":"2025-01-01T08:00:00.1234567891Z"})",  // 10 digits
      R"({"occurredAt":"2025-01-01t08:00:00z"})",             // lower case
      R"({"occurredAt":1735718400})",                         // a number
      R"({"consentRecorded":{"scope":"sip"}})",               // enum case
      R"({"consentRecorded":{"scope":2}})",                   // enum number
      R"({"consentRecorded":{"granted":"true"}})",            // bool as string
      R"({"needsAssessed":{"needs":"SOCIAL_SERVICES"}})",     // not an array
      R"({"eventId":"a	b"})",                                // raw tab
      R"({"eventId":"\u00e5"})",                              // escape
      R"({"eventId":"e"} x)",                                 // trailing
      R"([{"eventId":"e"}])",                                 // not an object
      R"({"eventId":"e")",                                    // cut
      "{\"eventId\":\"\xff\"}",                               // not UTF-8
      R"({"admitted":{"patient":{"personalId":12}}})",        // number for string
      R"({"dischargeReady":[]})",                             // array for message
  };
  for (const auto& line : left) EXPECT_FALSE(same_parse(line)) << line;
}

// Every string protobuf might escape differently: every ASCII character and every two-byte UTF-8
// letter, in every kind of field the printer writes.
TEST(JsonFast, PrintsTheConvertersBytes) {
  JsonCodec fast, converter(JsonCodec::Path::kConverterOnly);
  std::vector<v1::Notification> cases;
  {
    v1::Notification n;
    n.set_notification_id("n-1");
    n.set_episode_id("ep-1");
    n.mutable_issued_at()->set_seconds(1735718400);
    auto* a = n.add_addressees();
    a->set_kind(v1::Organisation::MUNICIPALITY);
    a->set_id("0180");
    n.add_addressees()->set_kind(v1::Organisation::WARD);
    auto* notice = n.mutable_admission_notice();
    notice->mutable_patient()->set_name("Åsa Öberg-Ängström");
    notice->add_needs(v1::SOCIAL_SERVICES);
    notice->add_needs(v1::OUTPATIENT_CARE);
    notice->mutable_estimated_discharge_at()->set_nanos(500000000);
    cases.push_back(n);
  }
  {
    v1::Notification n;
    auto* p = n.mutable_payment_liability();
    p->set_amount_sek(0);  // explicit presence: printed although 0
    p->set_liable_days(-3);
    auto* period = p->add_periods();
    period->mutable_notice_sent_at()->set_seconds(-62135596800);  // 0001-01-01
    period->mutable_notice_sent_at()->set_nanos(1000);
    p->add_periods()->set_excluded_days(2);
    cases.push_back(n);
  }
  {
    v1::Notification n;
    n.mutable_notice_held()->add_missing_fields("patient.name");
    n.mutable_notice_held()->add_missing_fields("");
    n.mutable_deadline_missed()->mutable_due_at()->set_seconds(253402300799);  // 9999-12-31
    n.mutable_deadline_missed()->mutable_due_at()->set_nanos(123456789);
    cases.push_back(n);
  }
  std::string all;
  for (int c = 1; c < 0x80; ++c) all += static_cast<char>(c);
  for (unsigned cp = 0x80; cp < 0x800; ++cp) {
    all += static_cast<char>(0xC0 | (cp >> 6));
    all += static_cast<char>(0x80 | (cp & 0x3F));
  }
  for (size_t i = 0; i < all.size();) {  // one code point per message, and all of them at once
    const size_t len = static_cast<unsigned char>(all[i]) < 0x80 ? 1 : 2;
    v1::Notification n;
    n.set_episode_id("a" + all.substr(i, len) + "b");
    cases.push_back(n);
    i += len;
  }
  v1::Notification everything;
  everything.mutable_discharge_ready_notice()->set_care_unit(all);
  cases.push_back(everything);

  size_t taken = 0;
  for (const auto& n : cases) {
    std::string a = "prefix", b = "prefix";
    ASSERT_TRUE(fast.print(n, a));
    ASSERT_TRUE(converter.print(n, b));
    EXPECT_EQ(a, b);
    std::string direct;
    taken += json_fast::print(n, direct) ? 1 : 0;
  }
  // Only the C1 controls (32), the soft hyphen, six format characters and the message holding
  // them all go the slow way.
  EXPECT_EQ(taken, cases.size() - 40);
}

TEST(JsonFast, LeavesWhatItCannotPrintAndKeepsTheOutput) {
  v1::Notification n;
  n.set_episode_id("\xe2\x80\xa8");  // U+2028, a three-byte sequence
  std::string out = "kept";
  EXPECT_FALSE(json_fast::print(n, out));
  EXPECT_EQ(out, "kept");
  n.set_episode_id("\xc3");  // cut
  EXPECT_FALSE(json_fast::print(n, out));
  n.set_episode_id("x");
  n.mutable_issued_at()->set_seconds(253402300800);  // year 10000: protobuf refuses it too
  EXPECT_FALSE(json_fast::print(n, out));
  JsonCodec codec;
  EXPECT_FALSE(codec.print(n, out));
  EXPECT_EQ(out, "kept");
}

}  // namespace
}  // namespace samordna
