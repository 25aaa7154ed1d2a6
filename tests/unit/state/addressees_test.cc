#include "engine/state/addressees.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace samordna::state {
namespace {

using v1::Organisation;

storage::v1::EpisodeState episode() {
  storage::v1::EpisodeState st;
  st.set_episode_id("ep1");
  st.mutable_admission()->set_care_unit("ward-7");
  st.mutable_admission()->set_region("03");
  st.mutable_admission()->mutable_patient()->set_home_municipality("0380");
  return st;
}

// "KIND:id" per addressee, in order.
std::vector<std::string> to(const v1::Notification& n) {
  std::vector<std::string> out;
  for (const auto& o : n.addressees())
    out.push_back(Organisation::Kind_Name(o.kind()) + ":" + o.id());
  return out;
}

using Orgs = std::vector<std::string>;

v1::Recipient recipient(v1::Service s, const std::string& unit) {
  v1::Recipient r;
  r.set_service(s);
  r.set_unit(unit);
  return r;
}

v1::Party party(v1::Party::Role role, const std::string& unit) {
  v1::Party p;
  p.set_role(role);
  p.set_unit(unit);
  return p;
}

TEST(Addressees, ANoticeGoesToItsRecipientOnly) {
  v1::Notification n;
  *n.mutable_admission_notice()->mutable_recipient() = recipient(v1::SOCIAL_SERVICES, "0380");
  set_addressees(n, episode());
  EXPECT_EQ(to(n), (Orgs{"MUNICIPALITY:0380"}));
  *n.mutable_discharge_ready_notice()->mutable_recipient() =
      recipient(v1::MUNICIPAL_HEALTH_CARE, "0380");
  set_addressees(n, episode());
  EXPECT_EQ(to(n), (Orgs{"MUNICIPALITY:0380"}));
  *n.mutable_estimated_discharge_update()->mutable_recipient() =
      recipient(v1::OUTPATIENT_CARE, "vc-1");
  set_addressees(n, episode());
  EXPECT_EQ(to(n), (Orgs{"OUTPATIENT_UNIT:vc-1"}));
  *n.mutable_admission_cancellation()->mutable_recipient() = recipient(v1::OUTPATIENT_CARE, "vc-1");
  set_addressees(n, episode());
  EXPECT_EQ(to(n), (Orgs{"OUTPATIENT_UNIT:vc-1"}));
}

TEST(Addressees, DeadlineAlertsGoToTheResponsiblePartyAndTheWardSorted) {
  v1::Notification n;
  *n.mutable_deadline_missed()->mutable_responsible() = party(v1::Party::OUTPATIENT_CARE, "vc-1");
  set_addressees(n, episode());
  EXPECT_EQ(to(n), (Orgs{"OUTPATIENT_UNIT:vc-1", "WARD:ward-7"}));
  *n.mutable_deadline_reminder()->mutable_responsible() = party(v1::Party::MUNICIPALITY, "0380");
  set_addressees(n, episode());
  EXPECT_EQ(to(n), (Orgs{"MUNICIPALITY:0380", "WARD:ward-7"}));
  // The ward responsible for its own deadline is listed once.
  *n.mutable_deadline_miss_retracted()->mutable_responsible() =
      party(v1::Party::INPATIENT_CARE, "ward-7");
  set_addressees(n, episode());
  EXPECT_EQ(to(n), (Orgs{"WARD:ward-7"}));
}

TEST(Addressees, HeldNoticesGoToTheWardAloneAndWarningsAlsoToThePartyConcerned) {
  v1::Notification n;
  n.mutable_notice_held()->set_notice(v1::NoticeHeld::DISCHARGE_READY_NOTICE);
  set_addressees(n, episode());
  EXPECT_EQ(to(n), (Orgs{"WARD:ward-7"}));
  *n.mutable_warning()->mutable_to() = party(v1::Party::OUTPATIENT_CARE, "vc-1");
  set_addressees(n, episode());
  EXPECT_EQ(to(n), (Orgs{"OUTPATIENT_UNIT:vc-1", "WARD:ward-7"}));
}

TEST(Addressees, PaymentLiabilityGoesToTheMunicipalityAndTheRegion) {
  v1::Notification n;
  n.mutable_payment_liability()->set_municipality("0380");
  set_addressees(n, episode());
  EXPECT_EQ(to(n), (Orgs{"MUNICIPALITY:0380", "REGION:03"}));
}

TEST(Addressees, OrganisationsWithoutAnIdAreLeftOutAndOldAddresseesReplaced) {
  v1::Notification n;
  n.add_addressees()->set_id("stale");
  *n.mutable_deadline_missed()->mutable_responsible() = party(v1::Party::OUTPATIENT_CARE, "");
  set_addressees(n, episode());
  EXPECT_EQ(to(n), (Orgs{"WARD:ward-7"}));
}

}  // namespace
}  // namespace samordna::state
