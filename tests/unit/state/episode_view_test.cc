#include "engine/state/episode_view.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/state/episode_machine.h"
#include "rules/rule_set.h"
#include "tests/unit/state/state_testing.h"
#include "tests/unit/state/view_reference.h"

namespace samordna::state {
namespace {

using v1::EpisodeView;

Instant at(const std::string& rfc3339) { return parse_rfc3339(rfc3339).value(); }

rules::RuleBook book() {
  rules::RuleSet set;
  set.id = "test-statutory";
  set.title = "statutory default for tests";
  set.source = "test:1";
  set.valid_from = date::year{2018} / 1 / 1;
  set.liability.daily_rate_sek = {{2022, 9300}};
  return rules::RuleBook({set});
}

// Applies events (JSON, applied at their occurredAt), firing due timers first; returns the state.
storage::v1::EpisodeState run(const rules::RuleBook& rules,
                              const std::vector<std::string>& events) {
  std::optional<storage::v1::EpisodeState> st;
  for (const auto& json : events) {
    v1::Event e;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &e).ok()) << json;
    const Instant now = from_proto(e.occurred_at());
    while (st) {
      const auto& timers = st->timers();
      auto next = std::min_element(timers.begin(), timers.end(), [](const auto& a, const auto& b) {
        return a.fire_at() < b.fire_at();
      });
      if (next == timers.end() || from_unix(next->fire_at()) > now) break;
      st = fire_timer(*st, TimerFired{next->kind(), next->deadline(), from_unix(next->fire_at())},
                      rules, now)
               .next;
    }
    auto r = apply_event(st ? &*st : nullptr, e, rules, now);
    EXPECT_TRUE(r) << json << ": " << (r ? "" : r.error().reason);
    if (r && r.value().outcome == Transition::Outcome::kApplied) st = std::move(r.value().next);
  }
  return *st;
}

std::string ev(const std::string& id, const std::string& occurred, const std::string& payload) {
  return R"({"eventId":")" + id + R"(","episodeId":"ep1","occurredAt":")" + occurred + R"(",)" +
         payload + "}";
}

const std::string kAdmitted =
    R"("admitted":{"patient":{"personalId":"195704289999","name":"Test Testsson","address":"Storgatan 1","homeMunicipality":"0380"},"careUnit":"ward-7","region":"03","careType":"SOMATIC"})";
const std::string kNeeds =
    R"("needsAssessed":{"needs":["SOCIAL_SERVICES","OUTPATIENT_CARE"],"outpatientUnit":"vc-1","estimatedDischargeAt":"2022-03-10T10:00:00Z"})";

TEST(EpisodeView, ShowsTheEpisodeItsDeadlinesNoticesAndLiability) {
  const auto rules = book();
  const auto st = run(
      rules,
      {ev("a", "2022-03-01T08:00:00Z", kAdmitted), ev("n", "2022-03-01T10:00:00Z", kNeeds),
       ev("c", "2022-03-01T11:00:00Z",
          R"("consentRecorded":{"scope":"INFORMATION_SHARING","granted":true})"),
       ev("k", "2022-03-02T09:00:00Z", R"("careContactAppointed":{"unit":"vc-1"})"),
       ev("ack", "2022-03-02T09:30:00Z",
          R"("noticeAcknowledged":{"notificationId":"ep1/e/n/2","by":{"kind":"OUTPATIENT_UNIT","id":"vc-1"}})"),
       ev("r", "2022-03-03T09:50:00Z", R"("dischargeReady":{})"),
       ev("s", "2022-03-04T09:00:00Z", R"("sipInvitationSent":{})"),
       ev("i", "2022-03-10T07:00:00Z", R"("informationTransferred":{})"),
       ev("d", "2022-03-10T09:00:00Z", R"("discharged":{})")});
  const EpisodeView v = view_of(st, rules);
  EXPECT_EQ(v.episode_id(), "ep1");
  EXPECT_EQ(v.status(), EpisodeView::SETTLED);
  EXPECT_EQ(v.care_unit(), "ward-7");
  EXPECT_EQ(v.region(), "03");
  EXPECT_EQ(v.home_municipality(), "0380");
  EXPECT_EQ(v.care_type(), v1::SOMATIC);
  EXPECT_EQ(v.patient().personal_id(), "195704289999");
  ASSERT_EQ(v.needs_size(), 2);
  EXPECT_EQ(v.outpatient_unit(), "vc-1");
  EXPECT_EQ(v.care_contact_unit(), "vc-1");
  EXPECT_EQ(from_proto(v.discharge_ready_at()), at("2022-03-03T09:50:00Z"));
  EXPECT_EQ(from_proto(v.discharged_at()), at("2022-03-10T09:00:00Z"));
  EXPECT_EQ(v.rule_set(), "test-statutory");
  EXPECT_EQ(from_proto(v.updated_at()), at("2022-03-10T09:00:00Z"));

  // Admission notice, SIP, care contact, information transfer: all met.
  ASSERT_EQ(v.deadlines_size(), 4);
  const auto& notice = v.deadlines(0);
  EXPECT_EQ(notice.kind(), v1::ADMISSION_NOTICE);
  EXPECT_EQ(notice.state(), EpisodeView::Deadline::MET);
  EXPECT_EQ(from_proto(notice.due_at()), at("2022-03-02T10:00:00Z"));
  EXPECT_EQ(notice.due_local(), "2022-03-02T11:00:00+01:00");
  EXPECT_EQ(notice.responsible().kind(), v1::Organisation::WARD);
  EXPECT_EQ(notice.responsible().id(), "ward-7");
  EXPECT_EQ(notice.explanation().rfind("2 kap. 3 §", 0), 0u) << notice.explanation();
  EXPECT_NE(notice.explanation().find("due 2022-03-02T11:00:00+01:00"), std::string::npos);
  const auto& sip = v.deadlines(1);
  EXPECT_EQ(sip.kind(), v1::SIP_INVITATION);
  EXPECT_EQ(sip.responsible().kind(), v1::Organisation::OUTPATIENT_UNIT);
  EXPECT_EQ(from_proto(sip.fulfilled_at()), at("2022-03-04T09:00:00Z"));

  // Two admission notices, two discharge-ready notices; vc-1 acknowledged its admission notice.
  ASSERT_EQ(v.notices_size(), 4);
  EXPECT_EQ(v.notices(1).notification_id(), "ep1/e/n/2");
  EXPECT_EQ(v.notices(1).kind(), EpisodeView::Notice::ADMISSION_NOTICE);
  EXPECT_EQ(v.notices(1).recipient().id(), "vc-1");
  EXPECT_FALSE(v.notices(1).held());
  ASSERT_EQ(v.notices(1).acknowledgements_size(), 1);
  EXPECT_EQ(from_proto(v.notices(1).acknowledgements(0).at()), at("2022-03-02T09:30:00Z"));
  EXPECT_EQ(v.notices(2).kind(), EpisodeView::Notice::DISCHARGE_READY_NOTICE);
  EXPECT_EQ(from_proto(v.notices(2).issued_at()), at("2022-03-03T09:50:00Z"));

  EXPECT_EQ(v.liability().status(), v1::PaymentLiability::LIABLE);
  EXPECT_EQ(v.liability().liable_days(), 4);
}

TEST(EpisodeView, ShowsAHeldNoticeAndAnOpenDeadline) {
  const auto rules = book();
  const auto st = run(
      rules, {ev("a", "2022-03-01T08:00:00Z", kAdmitted), ev("n", "2022-03-01T10:00:00Z", kNeeds),
              ev("r", "2022-03-03T08:00:00Z", R"("dischargeReady":{})")});
  const EpisodeView v = view_of(st, rules);
  EXPECT_EQ(v.status(), EpisodeView::OPEN);
  EXPECT_TRUE(v.discharge_ready());
  EXPECT_FALSE(v.has_liability());
  ASSERT_EQ(v.notices_size(), 4);
  const auto& held = v.notices(2);
  EXPECT_EQ(held.kind(), EpisodeView::Notice::DISCHARGE_READY_NOTICE);
  EXPECT_TRUE(held.held());
  EXPECT_EQ(held.held_reason(), v1::NoticeHeld::MISSING_CONSENT);
  EXPECT_TRUE(held.notification_id().empty());
  EXPECT_FALSE(held.has_issued_at());
  EXPECT_EQ(from_proto(held.held_at()), at("2022-03-03T08:00:00Z"));
  ASSERT_EQ(v.deadlines_size(), 1);
  EXPECT_EQ(v.deadlines(0).state(), EpisodeView::Deadline::MET);
}

TEST(EpisodeView, IsTheSameForTheSameStateAndNeedsNoRuleSetToExist) {
  const auto rules = book();
  const auto st = run(
      rules, {ev("a", "2022-03-01T08:00:00Z", kAdmitted), ev("n", "2022-03-01T10:00:00Z", kNeeds)});
  EXPECT_EQ(view_of(st, rules).SerializeAsString(), view_of(st, rules).SerializeAsString());
  const EpisodeView v = view_of(st, rules::RuleBook{});
  EXPECT_EQ(v.rule_set(), "test-statutory");
  ASSERT_EQ(v.deadlines_size(), 1);
  EXPECT_TRUE(v.deadlines(0).explanation().empty());
  // A record written before updated_at existed shows its latest event time.
  storage::v1::EpisodeState old = st;
  old.clear_updated_at();
  EXPECT_EQ(from_proto(view_of(old, rules).updated_at()), at("2022-03-01T10:00:00Z"));
}

// write_view's bytes against the generated serializer's for the view built field by field.
::testing::AssertionResult written_as_built(const storage::v1::EpisodeState& st,
                                            const rules::RuleBook& rules) {
  std::string written;
  write_view(st, rules, written);
  const std::string built = testing::reference_view(st, rules).SerializeAsString();
  if (written == built) return ::testing::AssertionSuccess();
  EpisodeView parsed;
  const bool parses = parsed.ParseFromString(written);
  return ::testing::AssertionFailure()
         << "episode " << st.episode_id() << ": written " << written.size() << " bytes, built "
         << built.size()
         << (parses ? ", written parses as: " + parsed.DebugString() : ", written does not parse");
}

// Every state of every episode of the scenario cases (tests/scenario/cases, under the rule sets
// the product ships), after every event and every timer, as the pipeline would step it.
TEST(EpisodeView, WrittenBytesAreTheGeneratedSerializersForEveryStepOfTheScenarioCases) {
  const rules::LoadedRules loaded =
      rules::load_rule_book(std::filesystem::path(SAMORDNA_SOURCE_DIR) / "rules" / "sets");
  ASSERT_TRUE(loaded.errors.empty());
  const rules::RuleBook& rules = loaded.book;
  int compared = 0, with_ack = 0, with_held = 0, with_liability = 0, with_needs = 0;
  int with_fulfilled = 0, with_long_body = 0;
  auto check = [&](const storage::v1::EpisodeState& st) {
    ++compared;
    EXPECT_TRUE(written_as_built(st, rules));
    const EpisodeView v = testing::reference_view(st, rules);
    with_needs += v.needs_size() > 0 ? 1 : 0;
    with_liability += v.has_liability() ? 1 : 0;
    for (const auto& n : v.notices()) {
      with_held += n.held() ? 1 : 0;
      with_ack += n.acknowledgements_size() > 0 ? 1 : 0;
    }
    for (const auto& d : v.deadlines()) {
      with_fulfilled += d.has_fulfilled_at() ? 1 : 0;
      with_long_body += d.ByteSizeLong() >= 128 ? 1 : 0;
    }
  };
  const auto cases = std::filesystem::path(SAMORDNA_SOURCE_DIR) / "tests" / "scenario" / "cases";
  for (const auto& dir : std::filesystem::directory_iterator(cases)) {
    std::ifstream in(dir.path() / "events.jsonl");
    std::map<std::string, storage::v1::EpisodeState> episodes;
    std::string line;
    while (std::getline(in, line)) {
      v1::Event e;
      if (!google::protobuf::util::JsonStringToMessage(line, &e).ok()) continue;
      const Instant now = from_proto(e.occurred_at());
      auto found = episodes.find(e.episode_id());
      storage::v1::EpisodeState* st = found == episodes.end() ? nullptr : &found->second;
      while (st != nullptr) {
        const auto fired = testing::due_timer(*st, now);
        if (!fired) break;
        Transition t = fire_timer(*st, *fired, rules, now);
        ASSERT_EQ(t.outcome, Transition::Outcome::kApplied) << st->episode_id();
        *st = std::move(t.next);
        check(*st);
      }
      auto r = apply_event(st, e, rules, now);
      if (!r || r.value().outcome != Transition::Outcome::kApplied) continue;
      storage::v1::EpisodeState& next = episodes[e.episode_id()];
      next = std::move(r.value().next);
      check(next);
    }
  }
  // The corpus reaches every kind of field: the comparison is not of empty views.
  EXPECT_GT(compared, 500);
  EXPECT_GT(with_ack, 0);
  EXPECT_GT(with_held, 0);
  EXPECT_GT(with_liability, 0);
  EXPECT_GT(with_needs, 0);
  EXPECT_GT(with_fulfilled, 0);
  EXPECT_GT(with_long_body, 0);
  // And with no rule set in force, the deadlines have no explanation.
  EXPECT_TRUE(written_as_built(run(book(), {ev("a", "2022-03-01T08:00:00Z", kAdmitted),
                                            ev("n", "2022-03-01T10:00:00Z", kNeeds)}),
                               rules::RuleBook{}));
}

// What no valid event makes: bodies long enough for two- and three-byte lengths, enum values the
// contract does not name (a negative one is ten bytes), unknown fields, an empty patient.
TEST(EpisodeView, WrittenBytesAreTheGeneratedSerializersForStatesNoEventMakes) {
  const auto rules = book();
  storage::v1::EpisodeState st = run(
      rules, {ev("a", "2022-03-01T08:00:00Z", kAdmitted), ev("n", "2022-03-01T10:00:00Z", kNeeds)});
  st.mutable_admission()->set_care_unit(std::string(20000, 'w'));
  st.mutable_admission()->set_care_type(static_cast<v1::CareType>(-3));
  st.add_needs(static_cast<v1::Service>(77));
  st.mutable_admission()
      ->mutable_patient()
      ->GetReflection()
      ->MutableUnknownFields(st.mutable_admission()->mutable_patient())
      ->AddVarint(999, 1);
  ASSERT_GT(st.notices_size(), 0);
  auto* ack = st.mutable_notices(0)->add_acknowledgements();
  ack->mutable_by()->set_id(std::string(300, 'k'));
  ack->set_person(std::string(200, 'p'));
  ack->set_at(0);
  EXPECT_TRUE(written_as_built(st, rules));
  st.mutable_admission()->clear_patient();
  st.set_updated_at(-1);
  EXPECT_TRUE(written_as_built(st, rules));
}

}  // namespace
}  // namespace samordna::state
