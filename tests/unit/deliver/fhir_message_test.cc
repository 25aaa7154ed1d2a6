// The FHIR format (connectors/deliver/fhir_message.h): a message Bundle whose MessageHeader
// focuses the Encounter, the Encounter pointing at the Patient, with what the admission notice
// must carry (2 kap. 2 §) and no more; the same bytes every time.

#include "connectors/deliver/fhir_message.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace samordna::deliver {
namespace {

using nlohmann::json;

v1::Notification admission_notice() {
  v1::Notification n;
  n.set_notification_id("ep-1/admissionNotice/ev-1/0");
  n.set_episode_id("ep-1");
  n.mutable_issued_at()->set_seconds(1741593600);  // 2025-03-10T08:00:00Z
  auto* to = n.add_addressees();
  to->set_kind(v1::Organisation::MUNICIPALITY);
  to->set_id("0180");
  auto* a = n.mutable_admission_notice();
  a->mutable_recipient()->set_unit("0180");
  a->set_care_unit("SE2321000016-15CQ");
  a->mutable_admitted_at()->set_seconds(1741590000);
  a->mutable_estimated_discharge_at()->set_seconds(1742000000);
  a->mutable_patient()->set_personal_id("191212121212");
  a->mutable_patient()->set_name("Tolvan Tolvansson");
  a->mutable_patient()->set_address("Storgatan 1, 111 22 Stockholm");
  a->mutable_patient()->set_home_municipality("0180");
  return n;
}

const json* resource(const json& bundle, const std::string& type) {
  for (const auto& e : bundle["entry"]) {
    if (e["resource"]["resourceType"] == type) return &e["resource"];
  }
  return nullptr;
}

TEST(DeliverFhirTest, AdmissionNoticeIsAMessageBundle) {
  const auto text = fhir_message(admission_notice());
  ASSERT_TRUE(text);
  const json b = json::parse(*text);
  EXPECT_EQ(b["resourceType"], "Bundle");
  EXPECT_EQ(b["type"], "message");
  EXPECT_EQ(b["timestamp"], "2025-03-10T08:00:00Z");
  EXPECT_EQ(b["identifier"]["value"], "ep-1/admissionNotice/ev-1/0");
  ASSERT_EQ(b["entry"].size(), 3u);
  // The MessageHeader comes first (FHIR R4 Bundle bdl-12), then what it points at.
  EXPECT_EQ(b["entry"][0]["resource"]["resourceType"], "MessageHeader");
  const json& h = *resource(b, "MessageHeader");
  EXPECT_EQ(h["eventCoding"]["system"], kFhirEventSystem);
  EXPECT_EQ(h["eventCoding"]["code"], "admissionNotice");
  EXPECT_EQ(h["destination"][0]["receiver"]["identifier"]["value"], "0180");
  const json& enc = *resource(b, "Encounter");
  const json& pat = *resource(b, "Patient");
  EXPECT_EQ(h["focus"][0]["reference"], "urn:uuid:" + enc["id"].get<std::string>());
  EXPECT_EQ(enc["subject"]["reference"], "urn:uuid:" + pat["id"].get<std::string>());
  EXPECT_EQ(enc["class"]["code"], "IMP");
  EXPECT_EQ(enc["period"]["start"], "2025-03-10T07:00:00Z");
  EXPECT_EQ(enc["identifier"][0]["value"], "ep-1");
  EXPECT_EQ(enc["serviceProvider"]["identifier"]["value"], "SE2321000016-15CQ");
  EXPECT_EQ(enc["extension"][0]["valueDateTime"], "2025-03-15T00:53:20Z");
  EXPECT_EQ(pat["identifier"][0]["system"], "http://electronichealth.se/identifier/personnummer");
  EXPECT_EQ(pat["identifier"][0]["value"], "191212121212");
  EXPECT_EQ(pat["name"][0]["text"], "Tolvan Tolvansson");
  EXPECT_EQ(pat["address"][0]["text"], "Storgatan 1, 111 22 Stockholm");
  // What the law requires and nothing more: no birth date, gender, telecom.
  for (const char* extra : {"birthDate", "gender", "telecom"}) EXPECT_FALSE(pat.contains(extra));
  // Every fullUrl is a urn:uuid the resource's id repeats.
  for (const auto& e : b["entry"]) {
    EXPECT_EQ(e["fullUrl"], "urn:uuid:" + e["resource"]["id"].get<std::string>());
    EXPECT_EQ(e["resource"]["id"].get<std::string>().size(), 36u);
  }
}

TEST(DeliverFhirTest, SameNotificationSameBytesOtherNotificationOtherIds) {
  const auto a = fhir_message(admission_notice());
  EXPECT_EQ(a, fhir_message(admission_notice()));
  auto other = admission_notice();
  other.set_notification_id("ep-1/admissionNotice/ev-2/0");
  const json x = json::parse(*a), y = json::parse(*fhir_message(other));
  EXPECT_NE(x["id"], y["id"]);
  EXPECT_NE(x["entry"][0]["resource"]["id"], y["entry"][0]["resource"]["id"]);
}

TEST(DeliverFhirTest, NoticesWithoutAPatientCarryNone) {
  v1::Notification n;
  n.set_notification_id("ep-2/x/0");
  n.set_episode_id("ep-2");
  n.mutable_admission_cancellation()->mutable_recipient()->set_unit("0180");
  const json b = json::parse(*fhir_message(n));
  EXPECT_EQ(b["entry"].size(), 2u);
  EXPECT_EQ(resource(b, "Patient"), nullptr);
  EXPECT_EQ((*resource(b, "Encounter"))["status"], "cancelled");
  EXPECT_EQ((*resource(b, "MessageHeader"))["eventCoding"]["code"], "admissionCancellation");
}

TEST(DeliverFhirTest, ATimeOutOfRangeIsUnprintable) {
  auto n = admission_notice();
  n.mutable_admission_notice()->mutable_admitted_at()->set_seconds(300000000000LL);
  EXPECT_FALSE(fhir_message(n));
}

}  // namespace
}  // namespace samordna::deliver
