#include "engine/state/episode_machine.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/state/explain.h"
#include "tests/unit/state/state_testing.h"

namespace samordna::state {
namespace {

using storage::v1::DeadlineRecord;
using v1::Notification;

Instant at(const std::string& rfc3339) { return parse_rfc3339(rfc3339).value(); }

using testing::statutory_book;

// Drives one episode the way the pipeline does: before each input, fire the timers the clock has
// passed, earliest first.
class Episode {
 public:
  explicit Episode(rules::RuleBook book = statutory_book()) : book_(std::move(book)) {}

  // Applies an event (JSON, protobuf mapping) at `now`; returns the notifications it caused
  // (timers fired on the way included).
  std::vector<Notification> apply(const std::string& json, const std::string& now) {
    std::vector<Notification> out = advance(now);
    v1::Event e;
    const auto status = google::protobuf::util::JsonStringToMessage(json, &e);
    EXPECT_TRUE(status.ok()) << status.message();
    auto r = apply_event(state_ ? &*state_ : nullptr, e, book_, at(now));
    if (!r) {
      last_rejection_ = r.error();
      return out;
    }
    last_rejection_.reset();
    last_outcome_ = r.value().outcome;
    if (r.value().outcome == Transition::Outcome::kApplied) {
      state_ = r.value().next;
      for (auto& n : r.value().notifications) out.push_back(n);
    }
    return out;
  }

  std::vector<Notification> advance(const std::string& now) {
    std::vector<Notification> out;
    while (state_) {
      const auto fired = testing::due_timer(*state_, at(now));
      if (!fired) break;
      auto t = fire_timer(*state_, *fired, book_, at(now));
      EXPECT_EQ(t.outcome, Transition::Outcome::kApplied);
      state_ = t.next;
      for (auto& n : t.notifications) out.push_back(n);
    }
    return out;
  }

  const storage::v1::EpisodeState& state() const { return *state_; }
  const std::optional<Rejection>& rejection() const { return last_rejection_; }
  Transition::Outcome outcome() const { return last_outcome_; }
  const rules::RuleBook& book() const { return book_; }

  const DeadlineRecord* deadline(v1::DeadlineKind kind) const {
    const DeadlineRecord* found = nullptr;
    for (const auto& d : state_->deadlines()) {
      if (d.kind() == kind) found = &d;
    }
    return found;
  }

 private:
  rules::RuleBook book_;
  std::optional<storage::v1::EpisodeState> state_;
  std::optional<Rejection> last_rejection_;
  Transition::Outcome last_outcome_ = Transition::Outcome::kApplied;
};

std::string event(const std::string& id, const std::string& occurred, const std::string& payload) {
  return R"({"eventId":")" + id + R"(","episodeId":"ep1","occurredAt":")" + occurred + R"(",)" +
         payload + "}";
}

const std::string kAdmitted =
    R"("admitted":{"patient":{"personalId":"195704289999","name":"Test Testsson","address":"Storgatan 1, Uppsala","homeMunicipality":"0380"},"careUnit":"ward-7","region":"03","careType":"SOMATIC"})";
const std::string kNeedsAll =
    R"("needsAssessed":{"needs":["SOCIAL_SERVICES","OUTPATIENT_CARE"],"outpatientUnit":"vc-1","estimatedDischargeAt":"2022-03-10T10:00:00Z"})";

std::vector<std::string> kinds(const std::vector<Notification>& ns) {
  std::vector<std::string> out;
  for (const auto& n : ns) {
    const auto* f = Notification::descriptor()->FindFieldByNumber(n.kind_case());
    out.push_back(f ? f->json_name() : "none");
  }
  return out;
}

using Kinds = std::vector<std::string>;

// A settled liability is compared with the one before by its serialization (issue 14), which is
// the same as comparing the messages only while no field is floating point (-0.0 and 0.0, NaN)
// and none a map (its order): this fails on the day one is added.
TEST(EpisodeMachine, ALiabilityHasNoFieldItsBytesWouldCompareWrongly) {
  using google::protobuf::FieldDescriptor;
  std::vector<const google::protobuf::Descriptor*> todo = {v1::PaymentLiability::descriptor()};
  int fields = 0;
  while (!todo.empty()) {
    const auto* d = todo.back();
    todo.pop_back();
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      ++fields;
      EXPECT_FALSE(f->is_map()) << f->full_name();
      EXPECT_NE(f->cpp_type(), FieldDescriptor::CPPTYPE_DOUBLE) << f->full_name();
      EXPECT_NE(f->cpp_type(), FieldDescriptor::CPPTYPE_FLOAT) << f->full_name();
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) todo.push_back(f->message_type());
    }
  }
  EXPECT_GT(fields, 10);
}

TEST(EpisodeMachine, AdmissionOpensTheEpisodeSilently) {
  Episode ep;
  EXPECT_TRUE(
      ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z").empty());
  EXPECT_EQ(ep.state().phase(), storage::v1::EpisodeState::OPEN);
  EXPECT_EQ(ep.state().rule_set_id(), "test-statutory");
}

TEST(EpisodeMachine, EventsForUnknownEpisodesAreRejected) {
  Episode ep;
  ep.apply(event("x", "2022-03-01T08:00:00Z", R"("dischargeReady":{})"), "2022-03-01T08:00:00Z");
  ASSERT_TRUE(ep.rejection());
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kUnknownEpisode);
}

TEST(EpisodeMachine, InvalidPersonalIdIsRejectedWithoutEchoingIt) {
  Episode ep;
  std::string bad = kAdmitted;
  bad.replace(bad.find("195704289999"), 12, "195704289998");
  ep.apply(event("a", "2022-03-01T08:00:00Z", bad), "2022-03-01T08:00:00Z");
  ASSERT_TRUE(ep.rejection());
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kInvalidPersonalId);
  EXPECT_EQ(ep.rejection()->reason.find("9999"), std::string::npos);
  EXPECT_EQ(ep.rejection()->reason.find("9998"), std::string::npos);
}

TEST(EpisodeMachine, AssessmentSendsAdmissionNoticesToEachUnitInOrder) {
  Episode ep;
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  auto out = ep.apply(event("n", "2022-03-01T10:00:00Z", kNeedsAll), "2022-03-01T10:05:00Z");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].admission_notice().recipient().service(), v1::SOCIAL_SERVICES);
  EXPECT_EQ(out[0].admission_notice().recipient().unit(), "0380");
  EXPECT_EQ(out[1].admission_notice().recipient().service(), v1::OUTPATIENT_CARE);
  EXPECT_EQ(out[1].admission_notice().recipient().unit(), "vc-1");
  EXPECT_EQ(out[0].notification_id(), "ep1/e/n/1");
  EXPECT_EQ(out[1].notification_id(), "ep1/e/n/2");
  EXPECT_EQ(out[0].admission_notice().patient().address(), "Storgatan 1, Uppsala");
  ASSERT_EQ(out[1].addressees_size(), 1);
  EXPECT_EQ(out[1].addressees(0).kind(), v1::Organisation::OUTPATIENT_UNIT);
  EXPECT_EQ(out[1].addressees(0).id(), "vc-1");
  EXPECT_EQ(to_unix(from_proto(out[0].issued_at())), to_unix(at("2022-03-01T10:05:00Z")));
  const auto* d = ep.deadline(v1::ADMISSION_NOTICE);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->status(), DeadlineRecord::MET);
  EXPECT_EQ(from_unix(d->due_at()), at("2022-03-02T10:00:00Z"));  // assessment + 24 h
}

TEST(EpisodeMachine, MunicipalHealthCareAlsoNotifiesOutpatientCare) {
  Episode ep;
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  auto out = ep.apply(
      event(
          "n", "2022-03-01T09:00:00Z",
          R"("needsAssessed":{"needs":["MUNICIPAL_HEALTH_CARE"],"outpatientUnit":"vc-2","estimatedDischargeAt":"2022-03-05T10:00:00Z"})"),
      "2022-03-01T09:00:00Z");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].admission_notice().recipient().service(), v1::MUNICIPAL_HEALTH_CARE);
  EXPECT_EQ(out[1].admission_notice().recipient().service(), v1::OUTPATIENT_CARE);
}

TEST(EpisodeMachine, LateFeedMakesTheAdmissionNoticeMissed) {
  Episode ep;
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  // Assessed 10:00, learned of at 10:00:01 next day: the notice goes out one second late.
  auto out = ep.apply(event("n", "2022-03-01T10:00:00Z", kNeedsAll), "2022-03-02T10:00:01Z");
  EXPECT_EQ(kinds(out), (Kinds{"admissionNotice", "admissionNotice", "deadlineMissed"}));
  EXPECT_EQ(out[2].deadline_missed().deadline(), v1::ADMISSION_NOTICE);
  EXPECT_TRUE(out[2].deadline_missed().has_fulfilled_at());
}

TEST(EpisodeMachine, NoticeAtTheLastSecondIsOnTime) {
  Episode ep;
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  auto out = ep.apply(event("n", "2022-03-01T10:00:00Z", kNeedsAll), "2022-03-02T10:00:00Z");
  EXPECT_EQ(kinds(out), (Kinds{"admissionNotice", "admissionNotice"}));
}

TEST(EpisodeMachine, MissingEstimateHoldsTheNoticeUntilItArrives) {
  Episode ep;
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  auto out = ep.apply(
      event("n", "2022-03-01T10:00:00Z", R"("needsAssessed":{"needs":["SOCIAL_SERVICES"]})"),
      "2022-03-01T10:00:00Z");
  ASSERT_EQ(kinds(out), (Kinds{"noticeHeld"}));
  EXPECT_EQ(out[0].notice_held().reason(), v1::NoticeHeld::MISSING_CONTENT);
  ASSERT_EQ(out[0].notice_held().missing_fields_size(), 1);
  EXPECT_EQ(out[0].notice_held().missing_fields(0), "estimatedDischargeAt");
  out = ep.apply(
      event("e", "2022-03-01T12:00:00Z",
            R"("estimatedDischargeChanged":{"estimatedDischargeAt":"2022-03-04T10:00:00Z"})"),
      "2022-03-01T12:00:00Z");
  EXPECT_EQ(kinds(out), (Kinds{"admissionNotice"}));
  EXPECT_EQ(ep.deadline(v1::ADMISSION_NOTICE)->status(), DeadlineRecord::MET);
}

TEST(EpisodeMachine, HeldNoticeMissesItsDeadlineWhenTheClockPasses) {
  Episode ep;
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  ep.apply(event("n", "2022-03-01T10:00:00Z", R"("needsAssessed":{"needs":["SOCIAL_SERVICES"]})"),
           "2022-03-01T10:00:00Z");
  auto out = ep.advance("2022-03-02T10:00:01Z");
  ASSERT_EQ(kinds(out), (Kinds{"deadlineMissed"}));
  EXPECT_EQ(
      out[0].notification_id(),
      "ep1/t/due/ADMISSION_NOTICE/" + std::to_string(to_unix(at("2022-03-02T10:00:01Z"))) + "/1");
  EXPECT_EQ(out[0].deadline_missed().due_local(), "2022-03-02T11:00:00+01:00");
}

// Issue 8 item 1 (2 kap. 1, 3 §§): a unit named by a later assessment has its own 24 h. Both
// notices are held (no estimated discharge time): each deadline is missed by its own timer.
TEST(EpisodeMachine, EachAssessmentGivesTheUnitsItNamesTheirOwnDeadline) {
  Episode ep;
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  ep.apply(event("n", "2022-03-01T10:00:00Z", R"("needsAssessed":{"needs":["SOCIAL_SERVICES"]})"),
           "2022-03-01T10:00:00Z");
  ep.apply(event("m", "2022-03-01T16:00:00Z",
                 R"("needsAssessed":{"needs":["OUTPATIENT_CARE"],"outpatientUnit":"vc-1"})"),
           "2022-03-01T16:00:00Z");
  int notice_deadlines = 0;
  for (const auto& d : ep.state().deadlines()) {
    if (d.kind() == v1::ADMISSION_NOTICE) ++notice_deadlines;
  }
  ASSERT_EQ(notice_deadlines, 2);
  auto out = ep.advance("2022-03-02T10:00:01Z");
  ASSERT_EQ(kinds(out), (Kinds{"deadlineMissed"}));
  EXPECT_EQ(out[0].deadline_missed().due_local(), "2022-03-02T11:00:00+01:00");
  out = ep.advance("2022-03-02T16:00:01Z");
  ASSERT_EQ(kinds(out), (Kinds{"deadlineMissed"}));
  EXPECT_EQ(out[0].deadline_missed().due_local(), "2022-03-02T17:00:00+01:00");
}

TEST(EpisodeMachine, DuplicateIdsAreIgnoredAndConflictingOnesRejected) {
  Episode ep;
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  ep.apply(event("n", "2022-03-01T10:00:00Z", kNeedsAll), "2022-03-01T10:00:00Z");
  auto out = ep.apply(event("n", "2022-03-01T10:00:00Z", kNeedsAll), "2022-03-01T11:00:00Z");
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(ep.rejection());
  EXPECT_EQ(ep.outcome(), Transition::Outcome::kDuplicate);
  ep.apply(event("n", "2022-03-01T10:30:00Z", kNeedsAll), "2022-03-01T11:00:00Z");
  ASSERT_TRUE(ep.rejection());
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kConflict);
}

// An event from a named source: the JSON of event() with "source" added.
std::string sourced(const std::string& source, const std::string& id, const std::string& occurred,
                    const std::string& payload) {
  return R"({"source":")" + source + "\"," + event(id, occurred, payload).substr(1);
}

TEST(EpisodeMachine, EventIdsAreUniquePerSource) {
  Episode ep;
  ep.apply(event("1", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  // Two feeds both number from 1: neither is a duplicate of the admission nor of each other.
  auto out =
      ep.apply(sourced("hl7:A/B", "1", "2022-03-01T10:00:00Z", kNeedsAll), "2022-03-01T10:00:00Z");
  ASSERT_FALSE(ep.rejection());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].notification_id(), "ep1/s/hl7:A%2FB/e/1/1");
  out = ep.apply(
      sourced("fhir", "1", "2022-03-01T11:00:00Z",
              R"("estimatedDischargeChanged":{"estimatedDischargeAt":"2022-03-09T10:00:00Z"})"),
      "2022-03-01T11:00:00Z");
  ASSERT_FALSE(ep.rejection());
  EXPECT_EQ(ep.outcome(), Transition::Outcome::kApplied);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].notification_id(), "ep1/s/fhir/e/1/1");
  // Within one source, the usual idempotency and conflict rules.
  EXPECT_TRUE(
      ep.apply(sourced("hl7:A/B", "1", "2022-03-01T10:00:00Z", kNeedsAll), "2022-03-01T12:00:00Z")
          .empty());
  EXPECT_EQ(ep.outcome(), Transition::Outcome::kDuplicate);
  ep.apply(sourced("fhir", "1", "2022-03-01T10:00:00Z", kNeedsAll), "2022-03-01T12:00:00Z");
  ASSERT_TRUE(ep.rejection());
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kConflict);
  // The default source is its own: "1" there is the admission.
  ep.apply(event("1", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T12:00:00Z");
  EXPECT_FALSE(ep.rejection());
  EXPECT_EQ(ep.outcome(), Transition::Outcome::kDuplicate);
}

TEST(EpisodeMachine, ASourceOver256BytesIsMalformed) {
  Episode ep;
  ep.apply(sourced(std::string(257, 'x'), "a", "2022-03-01T08:00:00Z", kAdmitted),
           "2022-03-01T08:00:00Z");
  ASSERT_TRUE(ep.rejection());
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kMalformed);
}

std::string ack(const std::string& notification_id, const std::string& kind, const std::string& id,
                const std::string& person = "") {
  return R"("noticeAcknowledged":{"notificationId":")" + notification_id + R"(","by":{"kind":")" +
         kind + R"(","id":")" + id + R"("})" +
         (person.empty() ? "" : R"(,"person":")" + person + "\"") + "}";
}

TEST(NoticeAcknowledged, IsRecordedOnceWithItsEventTime) {
  Episode ep;
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  ep.apply(event("n", "2022-03-01T10:00:00Z", kNeedsAll), "2022-03-01T10:00:00Z");
  ASSERT_EQ(ep.state().notices_size(), 2);
  EXPECT_EQ(ep.state().notices(0).notification_id(), "ep1/e/n/1");
  EXPECT_EQ(ep.state().notices(0).kind(), storage::v1::NoticeRecord::ADMISSION_NOTICE);
  EXPECT_EQ(ep.state().notices(0).recipient().kind(), v1::Organisation::MUNICIPALITY);
  EXPECT_TRUE(ep.apply(event("k1", "2022-03-01T10:30:00Z",
                             ack("ep1/e/n/1", "MUNICIPALITY", "0380", "SE2321000016-ABCD")),
                       "2022-03-01T10:31:00Z")
                  .empty());
  ASSERT_FALSE(ep.rejection());
  ASSERT_EQ(ep.state().notices(0).acknowledgements_size(), 1);
  const auto& a = ep.state().notices(0).acknowledgements(0);
  EXPECT_EQ(from_unix(a.at()), at("2022-03-01T10:30:00Z"));
  EXPECT_EQ(a.person(), "SE2321000016-ABCD");
  // A repeat (another event, the same acknowledgement) is accepted and adds nothing.
  ep.apply(event("k2", "2022-03-01T11:00:00Z", ack("ep1/e/n/1", "MUNICIPALITY", "0380")),
           "2022-03-01T11:00:00Z");
  ASSERT_FALSE(ep.rejection());
  EXPECT_EQ(ep.outcome(), Transition::Outcome::kApplied);
  ASSERT_EQ(ep.state().notices(0).acknowledgements_size(), 1);
  EXPECT_EQ(from_unix(ep.state().notices(0).acknowledgements(0).at()), at("2022-03-01T10:30:00Z"));
}

TEST(NoticeAcknowledged, IsRefusedForAStrangerAnUnknownIdAndANonNotice) {
  Episode ep;
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  ep.apply(event("n", "2022-03-01T10:00:00Z", R"("needsAssessed":{"needs":["SOCIAL_SERVICES"]})"),
           "2022-03-01T10:00:00Z");  // held: no estimated discharge time
  ASSERT_EQ(ep.state().notices_size(), 1);
  EXPECT_FALSE(ep.state().notices(0).has_issued_at());
  EXPECT_EQ(ep.state().notices(0).held_notification_id(), "ep1/e/n/1");
  // The noticeHeld went to the ward: it is not a notice.
  ep.apply(event("k1", "2022-03-01T10:30:00Z", ack("ep1/e/n/1", "WARD", "ward-7")),
           "2022-03-01T10:30:00Z");
  ASSERT_TRUE(ep.rejection());
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kUnknownNotice);
  EXPECT_NE(ep.rejection()->reason.find("not a notice"), std::string::npos);
  ep.apply(event("e", "2022-03-01T12:00:00Z",
                 R"("estimatedDischargeChanged":{"estimatedDischargeAt":"2022-03-04T10:00:00Z"})"),
           "2022-03-01T12:00:00Z");
  ASSERT_EQ(ep.state().notices_size(), 1);  // the held record, completed
  EXPECT_EQ(ep.state().notices(0).notification_id(), "ep1/e/e/1");
  EXPECT_EQ(ep.state().notices(0).held_reason(), v1::NoticeHeld::MISSING_CONTENT);
  // Another municipality, the ward, a wrong id, a timer's id.
  ep.apply(event("k2", "2022-03-01T12:30:00Z",
                 ack("ep1/e/e/1", "MUNICIPALITY", "0180", "SE2321000016-ABCD")),
           "2022-03-01T12:30:00Z");
  ASSERT_TRUE(ep.rejection());
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kNotAddressee);
  EXPECT_EQ(ep.rejection()->reason.find("SE2321000016"), std::string::npos);
  ep.apply(event("k3", "2022-03-01T12:30:00Z", ack("ep1/e/e/1", "WARD", "ward-7")),
           "2022-03-01T12:30:00Z");
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kNotAddressee);
  ep.apply(event("k4", "2022-03-01T12:30:00Z", ack("ep2/e/e/1", "MUNICIPALITY", "0380")),
           "2022-03-01T12:30:00Z");
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kUnknownNotice);
  EXPECT_NE(ep.rejection()->reason.find("no notice this episode issued"), std::string::npos);
  ep.apply(event("k5", "2022-03-01T12:30:00Z",
                 ack("ep1/t/due/ADMISSION_NOTICE/1646215201/1", "MUNICIPALITY", "0380")),
           "2022-03-01T12:30:00Z");
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kUnknownNotice);
  EXPECT_NE(ep.rejection()->reason.find("not a notice"), std::string::npos);
  ep.apply(event("k6", "2022-03-01T12:30:00Z", ack("ep1/e/e/1", "KIND_UNSPECIFIED", "0380")),
           "2022-03-01T12:30:00Z");
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kMalformed);
  EXPECT_EQ(ep.state().notices(0).acknowledgements_size(), 0);
}

TEST(NoticeAcknowledged, IsAcceptedAfterCancellation) {
  Episode ep;
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  ep.apply(event("n", "2022-03-01T10:00:00Z", kNeedsAll), "2022-03-01T10:00:00Z");
  ep.apply(event("z", "2022-03-02T10:00:00Z", R"("admissionCancelled":{})"),
           "2022-03-02T10:00:00Z");
  ASSERT_EQ(ep.state().notices_size(), 4);
  EXPECT_EQ(ep.state().notices(3).kind(), storage::v1::NoticeRecord::ADMISSION_CANCELLATION);
  ep.apply(event("k", "2022-03-02T11:00:00Z", ack("ep1/e/z/2", "OUTPATIENT_UNIT", "vc-1")),
           "2022-03-02T11:00:00Z");
  ASSERT_FALSE(ep.rejection());
  EXPECT_EQ(ep.state().notices(3).acknowledgements_size(), 1);
  ep.apply(event("r", "2022-03-03T08:00:00Z", R"("dischargeReady":{})"), "2022-03-03T08:00:00Z");
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kEpisodeClosed);
}

// Events i = 0.. of one episode: estimated discharge changes, each telling the three units notified
// (the most a routine event adds to the state).
std::string estimate(int i) {
  return event("x" + std::to_string(i), "2022-03-01T12:00:00Z",
               R"("estimatedDischargeChanged":{"estimatedDischargeAt":"2022-03-)" +
                   std::string(i % 2 == 0 ? "09" : "10") + R"(T10:00:00Z"})");
}

const std::string kNeedsThree =
    R"("needsAssessed":{"needs":["SOCIAL_SERVICES","MUNICIPAL_HEALTH_CARE","OUTPATIENT_CARE"],"outpatientUnit":"vc-1","estimatedDischargeAt":"2022-03-10T10:00:00Z"})";

TEST(EpisodeLimit, StopsTheEpisodeAtTheCapWithOneWarningAndKeepsTheStateBounded) {
  Episode ep;
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  ep.apply(event("n", "2022-03-01T10:00:00Z", kNeedsThree), "2022-03-01T10:00:00Z");
  int warnings = 0;
  for (int i = 2; i < kMaxEventsPerEpisode; ++i) {
    for (const auto& n : ep.apply(estimate(i), "2022-03-01T12:00:00Z")) {
      if (n.has_warning()) {
        ++warnings;
        EXPECT_EQ(i, kMaxEventsPerEpisode - 1) << "the event that reaches the cap warns";
        EXPECT_EQ(n.warning().code(), v1::Warning::EPISODE_EVENT_LIMIT);
        EXPECT_EQ(n.warning().to().unit(), "ward-7");
      }
    }
    ASSERT_FALSE(ep.rejection()) << i;
  }
  EXPECT_EQ(warnings, 1);
  EXPECT_EQ(ep.state().seen_keys_size(), kMaxEventsPerEpisode);
  // The state at the cap, with three notices per event: well under Kafka's default 1 MB message.
  const size_t full = ep.state().ByteSizeLong();
  RecordProperty("state_bytes_at_cap", static_cast<int>(full));
  EXPECT_LT(full, 512u * 1024u) << full;
  // Beyond the cap: rejected with its own code, nothing stored; duplicates stay duplicates.
  EXPECT_TRUE(ep.apply(estimate(kMaxEventsPerEpisode), "2022-03-01T12:00:00Z").empty());
  ASSERT_TRUE(ep.rejection());
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kEpisodeLimit);
  EXPECT_EQ(code_name(ep.rejection()->code), std::string("episode_limit"));
  ep.apply(estimate(5), "2022-03-01T12:00:00Z");
  EXPECT_FALSE(ep.rejection());
  EXPECT_EQ(ep.outcome(), Transition::Outcome::kDuplicate);
  EXPECT_EQ(ep.state().ByteSizeLong(), full);
}

// 100,000 events on one episode: the state stops growing at the cap, so each event costs at most a
// scan of kMaxEventsPerEpisode keys (no timing asserted: the bound is the state's size).
TEST(EpisodeLimit, AHundredThousandEventsOnOneEpisodeLeaveTheStateAtTheCap) {
  Episode ep;
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  ep.apply(event("n", "2022-03-01T10:00:00Z", kNeedsThree), "2022-03-01T10:00:00Z");
  storage::v1::EpisodeState st = ep.state();
  v1::Event e;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(estimate(0), &e).ok());
  const Instant now = at("2022-03-01T12:00:00Z");
  int limited = 0;
  size_t largest = 0;
  for (int i = 2; i < 100'000; ++i) {
    e.set_event_id("x" + std::to_string(i));
    e.mutable_estimated_discharge_changed()->mutable_estimated_discharge_at()->set_seconds(
        to_unix(now) + 86400 * (1 + i % 2));
    auto r = apply_event(&st, e, ep.book(), now);
    if (!r) {
      ASSERT_EQ(r.error().code, Rejection::Code::kEpisodeLimit) << i;
      ++limited;
      continue;
    }
    st = std::move(r.value().next);
    largest = std::max(largest, st.ByteSizeLong());
  }
  EXPECT_EQ(limited, 100'000 - kMaxEventsPerEpisode);
  EXPECT_EQ(st.seen_keys_size(), kMaxEventsPerEpisode);
  EXPECT_EQ(largest, st.ByteSizeLong());
  EXPECT_LT(largest, 512u * 1024u);
}

// Records written before seen_keys hold the string form: still read, and moved on the next step.
TEST(EpisodeLimit, OldStringFormRecordsStillDetectDuplicatesAndAreMigrated) {
  Episode fresh;
  fresh.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  fresh.apply(event("n", "2022-03-01T10:00:00Z", kNeedsAll), "2022-03-01T10:00:00Z");
  storage::v1::EpisodeState old = fresh.state();
  ASSERT_EQ(old.seen_keys_size(), 2);
  // What the first release wrote: event id and digest, no compact keys.
  for (int i = 0; i < 2; ++i) {
    auto* s = old.add_seen();
    s->set_event_id(i == 0 ? "a" : "n");
    s->set_digest(old.seen_digests(i));
  }
  old.clear_seen_keys();
  old.clear_seen_digests();
  v1::Event e;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(event("n", "2022-03-01T10:00:00Z", kNeedsAll), &e)
          .ok());
  auto r = apply_event(&old, e, fresh.book(), at("2022-03-01T11:00:00Z"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value().outcome, Transition::Outcome::kDuplicate);
  e.mutable_needs_assessed()->set_outpatient_unit("vc-9");
  r = apply_event(&old, e, fresh.book(), at("2022-03-01T11:00:00Z"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Rejection::Code::kConflict);
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(
          event("c", "2022-03-01T11:00:00Z", R"("consentRecorded":{"scope":"SIP","granted":true})"),
          &e)
          .ok());
  r = apply_event(&old, e, fresh.book(), at("2022-03-01T11:00:00Z"));
  ASSERT_TRUE(r);
  const auto& next = r.value().next;
  EXPECT_EQ(next.seen_size(), 0);
  ASSERT_EQ(next.seen_keys_size(), 3);
  EXPECT_EQ(next.seen_keys(0), fresh.state().seen_keys(0));
  EXPECT_EQ(next.seen_digests(1), fresh.state().seen_digests(1));
}

// A full statutory episode: notice before noon, SIP in time, discharged a week later.
class Liability : public ::testing::Test {
 protected:
  void admit_and_assess(const std::string& needs = kNeedsAll) {
    ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
    ep.apply(event("n", "2022-03-01T10:00:00Z", needs), "2022-03-01T10:00:00Z");
    ep.apply(event("c", "2022-03-01T11:00:00Z",
                   R"("consentRecorded":{"scope":"INFORMATION_SHARING","granted":true})"),
             "2022-03-01T11:00:00Z");
    ep.apply(event("k", "2022-03-02T09:00:00Z", R"("careContactAppointed":{"unit":"vc-1"})"),
             "2022-03-02T09:00:00Z");
  }
  // The usual end of an episode: SIP invitation, information transfer, discharge, each applied at
  // the time it occurred; returns what the discharge emitted.
  std::vector<Notification> sip_transfer_discharge(const std::string& sip,
                                                   const std::string& transfer,
                                                   const std::string& discharge) {
    ep.apply(event("s", sip, R"("sipInvitationSent":{})"), sip);
    ep.apply(event("i", transfer, R"("informationTransferred":{})"), transfer);
    return ep.apply(event("d", discharge, R"("discharged":{})"), discharge);
  }
  const v1::PaymentLiability* settled(const std::vector<Notification>& out) {
    for (const auto& n : out) {
      if (n.has_payment_liability()) return &n.payment_liability();
    }
    return nullptr;
  }
  Episode ep;
};

TEST_F(Liability, NoticeBeforeNoonMakesDayThreeTheFirstLiableDay) {
  admit_and_assess();
  // 2022-03-03 10:59:59 local (09:59:59Z): before the 12:00 cut-off.
  auto out = ep.apply(event("r", "2022-03-03T09:50:00Z", R"("dischargeReady":{})"),
                      "2022-03-03T09:59:59Z");
  EXPECT_EQ(kinds(out), (Kinds{"dischargeReadyNotice", "dischargeReadyNotice"}));
  out = sip_transfer_discharge("2022-03-04T09:00:00Z", "2022-03-10T07:00:00Z",
                               "2022-03-10T09:00:00Z");
  const auto* pl = settled(out);
  ASSERT_NE(pl, nullptr);
  EXPECT_EQ(pl->status(), v1::PaymentLiability::LIABLE);
  EXPECT_EQ(pl->municipality(), "0380");
  EXPECT_EQ(pl->first_liable_date(), "2022-03-06");
  EXPECT_EQ(pl->liable_days(), 4);  // nights of 6, 7, 8, 9 March
  EXPECT_EQ(pl->amount_sek(), 4 * 9300);
  EXPECT_EQ(ep.state().phase(), storage::v1::EpisodeState::CLOSED);
  EXPECT_NE(explain(ep.state(), ep.book())
                .find("settled: LIABLE, 4 liable day(s), the first on 2022-03-06 (the first "
                      "period with liable days), 37200 kr"),
            std::string::npos);
}

TEST_F(Liability, NoticeAfterNoonAddsADay) {
  admit_and_assess();
  ep.apply(event("r", "2022-03-03T11:00:00Z", R"("dischargeReady":{})"),
           "2022-03-03T11:00:01Z");  // 12:00:01
  ep.apply(event("s", "2022-03-04T09:00:00Z", R"("sipInvitationSent":{})"), "2022-03-04T09:00:00Z");
  ep.apply(event("i", "2022-03-10T07:00:00Z", R"("informationTransferred":{})"),
           "2022-03-10T07:00:00Z");
  auto out =
      ep.apply(event("d", "2022-03-10T09:00:00Z", R"("discharged":{})"), "2022-03-10T09:00:00Z");
  const auto* pl = settled(out);
  ASSERT_NE(pl, nullptr);
  EXPECT_EQ(pl->first_liable_date(), "2022-03-07");
  EXPECT_EQ(pl->liable_days(), 3);
}

TEST_F(Liability, MissedSipDeadlineMeansNoLiabilityUntilALateFeedRetractsIt) {
  admit_and_assess();
  ep.apply(event("r", "2022-03-03T08:00:00Z", R"("dischargeReady":{})"), "2022-03-03T08:00:00Z");
  // Reminder 24 h before 2022-03-06 23:59:59 local, then the miss.
  auto out = ep.advance("2022-03-07T00:00:00Z");
  EXPECT_EQ(kinds(out), (Kinds{"deadlineReminder", "deadlineMissed"}));
  EXPECT_EQ(out[1].deadline_missed().due_local(), "2022-03-06T23:59:59+01:00");
  // The care contact's system reports late that the invitation went out on day 3.
  out = ep.apply(event("s", "2022-03-06T20:00:00Z", R"("sipInvitationSent":{})"),
                 "2022-03-07T08:00:00Z");
  ASSERT_EQ(kinds(out), (Kinds{"deadlineMissRetracted"}));
  EXPECT_EQ(ep.deadline(v1::SIP_INVITATION)->status(), DeadlineRecord::MET);
}

TEST_F(Liability, SipInvitationAfterTheDueTimeKeepsTheMunicipalityFree) {
  admit_and_assess();
  ep.apply(event("r", "2022-03-03T08:00:00Z", R"("dischargeReady":{})"), "2022-03-03T08:00:00Z");
  ep.apply(event("s", "2022-03-06T23:00:00Z", R"("sipInvitationSent":{})"),
           "2022-03-06T23:00:00Z");  // 00:00 local, day 4
  ep.apply(event("i", "2022-03-10T07:00:00Z", R"("informationTransferred":{})"),
           "2022-03-10T07:00:00Z");
  auto out =
      ep.apply(event("d", "2022-03-10T09:00:00Z", R"("discharged":{})"), "2022-03-10T09:00:00Z");
  const auto* pl = settled(out);
  ASSERT_NE(pl, nullptr);
  EXPECT_EQ(pl->status(), v1::PaymentLiability::NOT_LIABLE);
  EXPECT_EQ(pl->reason(), v1::PaymentLiability::SIP_INVITATION_NOT_IN_TIME);
}

TEST_F(Liability, DecliningSipLiftsTheSipConditionEvenAfterAMiss) {
  admit_and_assess();
  ep.apply(event("r", "2022-03-03T08:00:00Z", R"("dischargeReady":{})"), "2022-03-03T08:00:00Z");
  ep.advance("2022-03-07T00:00:00Z");
  ASSERT_EQ(ep.deadline(v1::SIP_INVITATION)->status(), DeadlineRecord::MISSED);
  ep.apply(
      event("no", "2022-03-07T09:00:00Z", R"("consentRecorded":{"scope":"SIP","granted":false})"),
      "2022-03-07T09:00:00Z");
  ep.apply(event("i", "2022-03-10T07:00:00Z", R"("informationTransferred":{})"),
           "2022-03-10T07:00:00Z");
  auto out =
      ep.apply(event("d", "2022-03-10T09:00:00Z", R"("discharged":{})"), "2022-03-10T09:00:00Z");
  const auto* pl = settled(out);
  ASSERT_NE(pl, nullptr);
  EXPECT_EQ(pl->status(), v1::PaymentLiability::LIABLE);
  EXPECT_EQ(pl->liable_days(), 4);
}

TEST_F(Liability, ALateFeedAfterSettlementReissuesLiabilityWhenItChanges) {
  admit_and_assess();
  ep.apply(event("r", "2022-03-03T08:00:00Z", R"("dischargeReady":{})"), "2022-03-03T08:00:00Z");
  ep.apply(event("i", "2022-03-10T07:00:00Z", R"("informationTransferred":{})"),
           "2022-03-10T07:00:00Z");
  ep.apply(event("d", "2022-03-10T09:00:00Z", R"("discharged":{})"), "2022-03-10T09:00:00Z");
  // The SIP deadline (6 March) was missed before discharge: settled not liable.
  ASSERT_EQ(ep.state().phase(), storage::v1::EpisodeState::CLOSED);
  EXPECT_EQ(ep.state().settled_liability().reason(),
            v1::PaymentLiability::SIP_INVITATION_NOT_IN_TIME);
  // A late information transfer changes nothing: recorded, nothing issued.
  EXPECT_TRUE(
      ep.apply(event("k2", "2022-03-02T10:00:00Z", R"("careContactAppointed":{"unit":"vc-1"})"),
               "2022-03-11T08:00:00Z")
          .empty());
  EXPECT_FALSE(ep.rejection());
  // The care contact's system reports late that the invitation went out on day 2.
  auto out = ep.apply(event("s", "2022-03-05T09:00:00Z", R"("sipInvitationSent":{})"),
                      "2022-03-11T09:00:00Z");
  ASSERT_EQ(kinds(out), (Kinds{"deadlineMissRetracted", "paymentLiability"}));
  EXPECT_EQ(out[1].payment_liability().status(), v1::PaymentLiability::LIABLE);
  EXPECT_EQ(out[1].payment_liability().liable_days(), 4);
  // A municipality may acknowledge late: accepted while the state exists, nothing re-issued.
  EXPECT_TRUE(
      ep.apply(event("ack", "2022-03-11T10:00:00Z", ack("ep1/e/r/1", "MUNICIPALITY", "0380")),
               "2022-03-11T10:00:00Z")
          .empty());
  EXPECT_FALSE(ep.rejection());
  EXPECT_EQ(ep.state().phase(), storage::v1::EpisodeState::CLOSED);
}

TEST_F(Liability, TimerNotificationsAreIssuedAtTheirFireTime) {
  admit_and_assess();
  ep.apply(event("r", "2022-03-03T08:00:00Z", R"("dischargeReady":{})"), "2022-03-03T08:00:00Z");
  auto out = ep.advance("2022-03-20T00:00:00Z");  // long after both timers
  ASSERT_EQ(kinds(out), (Kinds{"deadlineReminder", "deadlineMissed"}));
  EXPECT_EQ(to_unix(from_proto(out[0].issued_at())), to_unix(at("2022-03-05T22:59:59Z")));
  EXPECT_EQ(to_unix(from_proto(out[1].issued_at())), to_unix(at("2022-03-06T23:00:00Z")));
}

TEST_F(Liability, RevocationStopsTheClocksAndANewDeclarationRestartsThem) {
  admit_and_assess();
  ep.apply(event("r1", "2022-03-03T08:00:00Z", R"("dischargeReady":{})"), "2022-03-03T08:00:00Z");
  ep.apply(event("x", "2022-03-04T08:00:00Z", R"("dischargeReadyRevoked":{})"),
           "2022-03-04T08:00:00Z");
  EXPECT_EQ(ep.deadline(v1::SIP_INVITATION)->status(), DeadlineRecord::WAIVED);
  EXPECT_TRUE(ep.advance("2022-03-08T00:00:00Z").empty());  // the waived SIP clock stays silent
  auto out = ep.apply(event("r2", "2022-03-08T08:00:00Z", R"("dischargeReady":{})"),
                      "2022-03-08T08:00:00Z");
  EXPECT_EQ(kinds(out), (Kinds{"dischargeReadyNotice", "dischargeReadyNotice"}));
  out = sip_transfer_discharge("2022-03-09T09:00:00Z", "2022-03-14T07:00:00Z",
                               "2022-03-14T09:00:00Z");
  const auto* pl = settled(out);
  ASSERT_NE(pl, nullptr);
  ASSERT_EQ(pl->periods_size(), 2);
  EXPECT_EQ(pl->periods(0).liable_days(), 0);  // revoked on 4 March, before day 3
  EXPECT_EQ(pl->periods(1).first_liable_date(), "2022-03-11");
  EXPECT_EQ(pl->liable_days(), 3);  // 11, 12, 13 March
}

TEST_F(Liability, WithoutConsentTheNoticeIsHeldAndSentWhenConsentArrives) {
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  ep.apply(event("n", "2022-03-01T10:00:00Z", kNeedsAll), "2022-03-01T10:00:00Z");
  auto out = ep.apply(event("r", "2022-03-03T08:00:00Z", R"("dischargeReady":{})"),
                      "2022-03-03T08:00:00Z");
  EXPECT_EQ(kinds(out), (Kinds{"warning", "noticeHeld"}));
  EXPECT_EQ(out[0].warning().code(), v1::Warning::DISCHARGE_READY_WITHOUT_CARE_CONTACT);
  EXPECT_EQ(out[1].notice_held().reason(), v1::NoticeHeld::MISSING_CONSENT);
  out = ep.apply(event("c", "2022-03-04T13:00:00Z",
                       R"("consentRecorded":{"scope":"INFORMATION_SHARING","granted":true})"),
                 "2022-03-04T13:00:00Z");
  EXPECT_EQ(kinds(out), (Kinds{"dischargeReadyNotice", "dischargeReadyNotice"}));
  // The SIP clock runs from the notice (4 March), not the declaration.
  EXPECT_EQ(rules::format_local(from_unix(ep.deadline(v1::SIP_INVITATION)->due_at())),
            "2022-03-07T23:59:59+01:00");
}

TEST_F(Liability, DischargeWithoutCareContactIsAMissAndOutpatientUnavailabilityExcludesDays) {
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  ep.apply(event("n", "2022-03-01T10:00:00Z", kNeedsAll), "2022-03-01T10:00:00Z");
  ep.apply(
      event("c", "2022-03-01T11:00:00Z", R"("consentRecorded":{"scope":"SIP","granted":false})"),
      "2022-03-01T11:00:00Z");
  ep.apply(event("c2", "2022-03-01T11:00:00Z",
                 R"("consentRecorded":{"scope":"INFORMATION_SHARING","granted":true})"),
           "2022-03-01T11:00:00Z");
  ep.apply(event("r", "2022-03-03T08:00:00Z", R"("dischargeReady":{})"), "2022-03-03T08:00:00Z");
  EXPECT_EQ(ep.deadline(v1::SIP_INVITATION), nullptr);  // SIP declined: not tracked
  ep.apply(event("u1", "2022-03-07T12:00:00Z",
                 R"("outpatientServicesUnavailable":{"unavailable":true})"),
           "2022-03-07T12:00:00Z");
  ep.apply(event("u2", "2022-03-08T12:00:00Z",
                 R"("outpatientServicesUnavailable":{"unavailable":false})"),
           "2022-03-08T12:00:00Z");
  auto out =
      ep.apply(event("d", "2022-03-10T09:00:00Z", R"("discharged":{})"), "2022-03-10T09:00:00Z");
  EXPECT_EQ(kinds(out), (Kinds{"deadlineMissed"}));  // care contact; information transfer pending
  EXPECT_EQ(out[0].deadline_missed().deadline(), v1::CARE_CONTACT);
  out = ep.apply(event("i", "2022-03-10T15:00:00Z", R"("informationTransferred":{})"),
                 "2022-03-10T15:00:00Z");
  const auto* pl = settled(out);
  ASSERT_NE(pl, nullptr);
  EXPECT_EQ(pl->status(), v1::PaymentLiability::LIABLE);
  EXPECT_EQ(pl->liable_days(), 2);               // 6 and 9 March
  EXPECT_EQ(pl->periods(0).excluded_days(), 2);  // 7 and 8 March
}

TEST_F(Liability, CancelledAdmissionTellsTheUnitsAndEndsEverything) {
  admit_and_assess();
  auto out = ep.apply(event("z", "2022-03-02T10:00:00Z", R"("admissionCancelled":{})"),
                      "2022-03-02T10:00:00Z");
  EXPECT_EQ(kinds(out), (Kinds{"admissionCancellation", "admissionCancellation"}));
  EXPECT_EQ(ep.state().phase(), storage::v1::EpisodeState::CANCELLED);
  EXPECT_TRUE(ep.state().timers().empty());
  ep.apply(event("r", "2022-03-03T08:00:00Z", R"("dischargeReady":{})"), "2022-03-03T08:00:00Z");
  ASSERT_TRUE(ep.rejection());
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kEpisodeClosed);
}

TEST_F(Liability, NoNeedsMeansNothingToNotifyAndNoLiability) {
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  ep.apply(event("n", "2022-03-01T10:00:00Z", R"("needsAssessed":{"needs":[]})"),
           "2022-03-01T10:00:00Z");
  EXPECT_TRUE(
      ep.apply(event("r", "2022-03-03T08:00:00Z", R"("dischargeReady":{})"), "2022-03-03T08:00:00Z")
          .empty());
  auto out =
      ep.apply(event("d", "2022-03-05T09:00:00Z", R"("discharged":{})"), "2022-03-05T09:00:00Z");
  const auto* pl = settled(out);
  ASSERT_NE(pl, nullptr);
  EXPECT_EQ(pl->reason(), v1::PaymentLiability::NO_MUNICIPAL_NEEDS);
  ep.apply(
      event("late", "2022-03-05T10:00:00Z", R"("needsAssessed":{"needs":["SOCIAL_SERVICES"]})"),
      "2022-03-05T10:00:00Z");
  ASSERT_TRUE(ep.rejection());
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kEpisodeClosed);
}

TEST_F(Liability, OutOfOrderEventsAreRejectedWithAReason) {
  admit_and_assess();
  ep.apply(event("x", "2022-03-02T10:00:00Z", R"("dischargeReadyRevoked":{})"),
           "2022-03-02T10:00:00Z");
  ASSERT_TRUE(ep.rejection());
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kOutOfOrder);
  ep.apply(event("early", "2022-02-28T10:00:00Z", R"("informationTransferred":{})"),
           "2022-03-02T10:00:00Z");
  ASSERT_TRUE(ep.rejection());
  EXPECT_EQ(ep.rejection()->code, Rejection::Code::kOutOfOrder);
}

TEST_F(Liability, StaleTimersChangeNothing) {
  admit_and_assess();
  auto t = fire_timer(
      ep.state(),
      TimerFired{storage::v1::TIMER_DEADLINE, v1::SIP_INVITATION, at("2022-03-09T00:00:00Z")},
      ep.book(), at("2022-03-09T00:00:00Z"));
  EXPECT_EQ(t.outcome, Transition::Outcome::kStale);
}

TEST_F(Liability, ExplainNamesRuleAnchorAndOutcome) {
  admit_and_assess();
  ep.apply(event("r", "2022-03-03T08:00:00Z", R"("dischargeReady":{})"), "2022-03-03T08:00:00Z");
  const std::string text = explain(ep.state(), ep.book());
  EXPECT_NE(text.find("SIP_INVITATION  4 kap. 3 §"), std::string::npos) << text;
  EXPECT_NE(text.find("due:         2022-03-06T23:59:59+01:00"), std::string::npos) << text;
  EXPECT_NE(text.find("outcome:     PENDING"), std::string::npos) << text;
  EXPECT_EQ(text.find("settled:"), std::string::npos) << "not settled yet";
  EXPECT_EQ(text.find("195704289999"), std::string::npos);
  EXPECT_EQ(text.find("Testsson"), std::string::npos);
}

// A record written before discharge_ready_notified (field 42) has no list of who had the notice:
// every recipient had the one that started the period, so a SIP consent still starts the clock.
TEST(EpisodeMachine, ASipConsentOnARecordWithoutDischargeReadyNotifiedStartsTheClock) {
  Episode ep;
  ep.apply(event("a", "2022-03-01T08:00:00Z", kAdmitted), "2022-03-01T08:00:00Z");
  ep.apply(event("n", "2022-03-01T09:00:00Z", kNeedsAll), "2022-03-01T09:00:00Z");
  ep.apply(event("ci", "2022-03-01T10:00:00Z",
                 R"("consentRecorded":{"scope":"INFORMATION_SHARING","granted":true})"),
           "2022-03-01T10:00:00Z");
  ep.apply(
      event("cs", "2022-03-01T11:00:00Z", R"("consentRecorded":{"scope":"SIP","granted":false})"),
      "2022-03-01T11:00:00Z");
  ep.apply(event("r", "2022-03-03T08:00:00Z", R"("dischargeReady":{})"), "2022-03-03T08:00:00Z");
  ASSERT_EQ(ep.deadline(v1::SIP_INVITATION), nullptr);
  storage::v1::EpisodeState old = ep.state();
  old.clear_discharge_ready_notified();
  v1::Event e;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  event("cs2", "2022-03-04T08:00:00Z",
                        R"("consentRecorded":{"scope":"SIP","granted":true})"),
                  &e)
                  .ok());
  auto r = apply_event(&old, e, ep.book(), at("2022-03-04T08:00:00Z"));
  ASSERT_TRUE(r);
  const DeadlineRecord* sip = nullptr;
  for (const auto& d : r.value().next.deadlines()) {
    if (d.kind() == v1::SIP_INVITATION) sip = &d;
  }
  ASSERT_NE(sip, nullptr);
  EXPECT_EQ(sip->status(), DeadlineRecord::PENDING);
  EXPECT_EQ(sip->due_at(), to_unix(at("2022-03-07T22:59:59Z")));  // consent 03-04 + 3
}

// Issue 8 item 9: what a coordinator needs from explain, in one episode: each notice per
// recipient with its deadline and outcome, lateness in elapsed time across DST, SIP consent, how
// each period ended, no backwards date range, the excluded dates.
TEST(Explain, TellsACoordinatorEachNoticeHowEachPeriodEndedAndWhatWasExcluded) {
  Episode ep;
  auto step = [&](const std::string& id, const std::string& t, const std::string& payload) {
    ep.apply(event(id, t, payload), t);
    ASSERT_FALSE(ep.rejection()) << id << ": " << ep.rejection()->reason;
  };
  step("a", "2022-03-25T08:00:00Z", kAdmitted);
  // No estimate: the notice is held; due 24 h after the assessment, across the DST change.
  step(
      "n", "2022-03-26T10:00:00Z",
      R"("needsAssessed":{"needs":["SOCIAL_SERVICES","OUTPATIENT_CARE"],"outpatientUnit":"vc-1"})");
  step("ci", "2022-03-26T10:05:00Z",
       R"("consentRecorded":{"scope":"INFORMATION_SHARING","granted":true})");
  step("cs", "2022-03-26T10:10:00Z", R"("consentRecorded":{"scope":"SIP","granted":false})");
  step("ed", "2022-03-27T11:12:00Z",
       R"("estimatedDischargeChanged":{"estimatedDischargeAt":"2022-04-08T08:00:00Z"})");
  step("cc", "2022-03-27T12:00:00Z", R"("careContactAppointed":{"unit":"vc-1"})");
  step("r1", "2022-03-28T08:00:00Z", R"("dischargeReady":{})");
  step("rv", "2022-03-29T08:00:00Z", R"("dischargeReadyRevoked":{})");
  step("r2", "2022-04-01T08:00:00Z", R"("dischargeReady":{})");
  step("u1", "2022-04-05T08:00:00Z", R"("outpatientServicesUnavailable":{"unavailable":true})");
  step("u2", "2022-04-06T08:00:00Z", R"("outpatientServicesUnavailable":{"unavailable":false})");
  step("it", "2022-04-08T07:00:00Z", R"("informationTransferred":{})");
  step("d", "2022-04-08T08:00:00Z", R"("discharged":{})");
  const std::string text = explain(ep.state(), ep.book());
  auto has = [&](const std::string& part) {
    EXPECT_NE(text.find(part), std::string::npos) << "missing: " << part << "\n" << text;
  };
  has("consent: information sharing granted; SIP declined");
  // Due 2022-03-27 10:00Z = 12:00+02:00; sent 11:12Z: 1 h 12 min of elapsed time.
  has("ADMISSION_NOTICE to SOCIAL_SERVICES 0380: due 2022-03-27T12:00:00+02:00; sent "
      "2022-03-27T13:12:00+02:00 (ep1/e/ed/1), 1 h 12 min late");
  has("ADMISSION_NOTICE to OUTPATIENT_CARE vc-1: due 2022-03-27T12:00:00+02:00; sent "
      "2022-03-27T13:12:00+02:00 (ep1/e/ed/2), 1 h 12 min late");
  has("outcome:     MISSED, fulfilled 2022-03-27T13:12:00+02:00 (1 h 12 min late), miss alerted");
  has("DISCHARGE_READY_NOTICE to MUNICIPALITY 0380: sent 2022-03-28T10:00:00+02:00 (ep1/e/r1/");
  has("ended by revocation 2022-03-29T10:00:00+02:00");
  has("ended 2022-03-29, on or before the first liable date 2022-03-31: no liable night");
  has("ended by discharge 2022-04-08T10:00:00+02:00");
  has("nights from 2022-04-04 up to, not including, 2022-04-08 = 4");
  has("excluded (5 kap. 5 §, outpatient services unavailable): 2022-04-05, 2022-04-06");
  has("liable days: 2");
  EXPECT_EQ(text.find("up to, not including, 2022-03-29"), std::string::npos) << text;
  EXPECT_EQ(text.find("195704289999"), std::string::npos);
}

}  // namespace
}  // namespace samordna::state
