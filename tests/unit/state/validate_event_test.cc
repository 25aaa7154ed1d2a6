// state::validate_event on hostile input. Built from binary messages where the JSON reader would
// refuse first: Kafka carries protobuf binary, and validate_event is what stands between it and
// the engine.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "engine/core/time.h"
#include "engine/state/episode_machine.h"

namespace samordna::state {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::Event admitted() {
  v1::Event e;
  e.set_event_id("e1");
  e.set_episode_id("ep1");
  e.mutable_occurred_at()->set_seconds(1741593600);  // 2025-03-10T08:00:00Z
  auto* a = e.mutable_admitted();
  a->mutable_patient()->set_personal_id("195704289999");
  a->mutable_patient()->set_name("Test Testsson");
  a->mutable_patient()->set_address("Storgatan 1, Uppsala");
  a->mutable_patient()->set_home_municipality("0380");
  a->set_care_unit("ward-7");
  a->set_region("03");
  a->set_care_type(v1::SOMATIC);
  return e;
}

v1::Event payload_only() {
  v1::Event e;
  e.set_event_id("e2");
  e.set_episode_id("ep1");
  e.mutable_occurred_at()->set_seconds(1741593600);
  return e;
}

std::string reason(const v1::Event& e) {
  const auto r = validate_event(e);
  return r ? std::string(code_name(r->code)) + ": " + r->reason : "accepted";
}

TEST(ValidateEvent, TheBaselineIsAccepted) { EXPECT_EQ(reason(admitted()), "accepted"); }

TEST(ValidateEvent, UnknownCareTypeNumbersAreRejected) {
  for (int n : {99, -1, 3}) {
    v1::Event e = admitted();
    e.mutable_admitted()->set_care_type(static_cast<v1::CareType>(n));
    EXPECT_EQ(reason(e), "malformed: admitted.careType must be SOMATIC or PSYCHIATRIC") << n;
  }
}

TEST(ValidateEvent, UnknownConsentScopeNumbersAreRejected) {
  for (int n : {99, -1, 3}) {
    v1::Event e = payload_only();
    e.mutable_consent_recorded()->set_scope(static_cast<v1::ConsentRecorded::Scope>(n));
    e.mutable_consent_recorded()->set_granted(true);
    EXPECT_EQ(reason(e), "malformed: consentRecorded.scope must be INFORMATION_SHARING or SIP")
        << n;
  }
}

TEST(ValidateEvent, UnknownServiceNumbersAreRejected) {
  for (int n : {99, -1, 4}) {
    v1::Event e = payload_only();
    e.mutable_needs_assessed()->add_needs(v1::SOCIAL_SERVICES);
    e.mutable_needs_assessed()->add_needs(static_cast<v1::Service>(n));
    EXPECT_EQ(reason(e), "malformed: needsAssessed.needs holds an unknown service") << n;
  }
}

TEST(ValidateEvent, StringsHaveDocumentedLimits) {
  struct Case {
    const char* path;
    size_t limit;
    void (*set)(v1::Event&, const std::string&);
  };
  const Case cases[] = {
      {"admitted.patient.name", 1024,
       [](v1::Event& e, const std::string& s) {
         e.mutable_admitted()->mutable_patient()->set_name(s);
       }},
      {"admitted.patient.address", 1024,
       [](v1::Event& e, const std::string& s) {
         e.mutable_admitted()->mutable_patient()->set_address(s);
       }},
      {"admitted.careUnit", 256,
       [](v1::Event& e, const std::string& s) { e.mutable_admitted()->set_care_unit(s); }},
  };
  for (const Case& c : cases) {
    v1::Event e = admitted();
    c.set(e, std::string(c.limit, 'x'));
    EXPECT_EQ(reason(e), "accepted") << c.path;
    c.set(e, std::string(c.limit + 1, 'x'));
    EXPECT_EQ(reason(e), "malformed: " + std::string(c.path) + " is longer than " +
                             std::to_string(c.limit) + " bytes");
  }
  v1::Event big = admitted();
  big.mutable_admitted()->mutable_patient()->set_name(std::string(50'000'000, 'K'));
  EXPECT_EQ(reason(big), "malformed: admitted.patient.name is longer than 1024 bytes");

  v1::Event unit = payload_only();
  unit.mutable_needs_assessed()->add_needs(v1::OUTPATIENT_CARE);
  unit.mutable_needs_assessed()->set_outpatient_unit(std::string(257, 'u'));
  EXPECT_EQ(reason(unit), "malformed: needsAssessed.outpatientUnit is longer than 256 bytes");
  v1::Event contact = payload_only();
  contact.mutable_care_contact_appointed()->set_unit(std::string(257, 'u'));
  EXPECT_EQ(reason(contact), "malformed: careContactAppointed.unit is longer than 256 bytes");
  v1::Event discharged = payload_only();
  discharged.mutable_discharged()->set_reason(std::string(4097, 'r'));
  EXPECT_EQ(reason(discharged), "malformed: discharged.reason is longer than 4096 bytes");
  discharged.mutable_discharged()->set_reason(std::string(4096, 'r'));
  EXPECT_EQ(reason(discharged), "accepted");
}

TEST(ValidateEvent, NulCharactersInsideStringsAreRejected) {
  v1::Event e = admitted();
  e.mutable_admitted()->mutable_patient()->set_name(std::string("Karin\0Malm", 10));
  EXPECT_EQ(reason(e), "malformed: admitted.patient.name holds a NUL character");
  v1::Event id = admitted();
  id.set_event_id(std::string("e\0", 2));
  EXPECT_EQ(reason(id), "malformed: eventId holds a NUL character");
  v1::Event d = payload_only();
  d.mutable_discharged()->set_reason(std::string("\0", 1));
  EXPECT_EQ(reason(d), "malformed: discharged.reason holds a NUL character");
}

TEST(ValidateEvent, InstantsTheOutputCannotHoldAreRejected) {
  v1::Event late = admitted();
  late.mutable_occurred_at()->set_seconds(kMaxTimestampSeconds + 1);
  EXPECT_THAT(reason(late), HasSubstr("malformed: occurredAt is outside"));
  // Deadlines run up to a year and more after an event: the last years of the Timestamp range
  // are left free so that every dueAt the engine derives can still be written.
  v1::Event last_year = admitted();
  last_year.mutable_occurred_at()->set_seconds(kMaxTimestampSeconds);
  EXPECT_THAT(reason(last_year), HasSubstr("malformed: occurredAt is outside"));
  v1::Event early = admitted();
  early.mutable_occurred_at()->set_seconds(kMinTimestampSeconds - 1);
  EXPECT_THAT(reason(early), HasSubstr("malformed: occurredAt is outside"));
  v1::Event nanos = admitted();
  nanos.mutable_occurred_at()->set_nanos(-1);
  EXPECT_THAT(reason(nanos), HasSubstr("malformed: occurredAt is outside"));
  v1::Event recorded = admitted();
  recorded.mutable_recorded_at()->set_seconds(kMaxTimestampSeconds + 1);
  EXPECT_THAT(reason(recorded), HasSubstr("malformed: recordedAt is outside"));
  v1::Event estimate = payload_only();
  estimate.mutable_estimated_discharge_changed()->mutable_estimated_discharge_at()->set_seconds(
      kMaxTimestampSeconds + 1);
  EXPECT_THAT(reason(estimate),
              HasSubstr("malformed: estimatedDischargeChanged.estimatedDischargeAt is outside"));
  v1::Event needs = payload_only();
  needs.mutable_needs_assessed()->add_needs(v1::SOCIAL_SERVICES);
  needs.mutable_needs_assessed()->mutable_estimated_discharge_at()->set_nanos(1'000'000'000);
  EXPECT_THAT(reason(needs), HasSubstr("malformed: needsAssessed.estimatedDischargeAt is outside"));
}

TEST(ValidateEvent, ReasonsNeverQuoteTheValue) {
  v1::Event e = admitted();
  e.mutable_admitted()->mutable_patient()->set_name(std::string(2000, '7') + "195704289999");
  EXPECT_THAT(reason(e), Not(HasSubstr("1957")));
}

}  // namespace
}  // namespace samordna::state
