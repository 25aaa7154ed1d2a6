// state::validate_event on hostile input. Built from binary messages where the JSON reader would
// refuse first: Kafka carries protobuf binary, and validate_event is what stands between it and
// the engine.

#include <gmock/gmock.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

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

  // An acknowledgement may name any id the engine gives a notice: episode id and event id at
  // their 256 bytes, a source of 256 bytes each percent-encoded, and the notice's number.
  v1::Event ack = payload_only();
  ack.mutable_notice_acknowledged()->mutable_by()->set_kind(v1::Organisation::MUNICIPALITY);
  ack.mutable_notice_acknowledged()->mutable_by()->set_id("0380");
  const std::string longest_id = std::string(256, 'p') + "/s/" + std::string(3 * 256, '%') + "/e/" +
                                 std::string(256, 'e') + "/" + std::string(20, '9');
  ASSERT_EQ(longest_id.size(), 1307u);
  ack.mutable_notice_acknowledged()->set_notification_id(longest_id);
  EXPECT_EQ(reason(ack), "accepted");
  ack.mutable_notice_acknowledged()->set_notification_id(longest_id + "9");
  EXPECT_EQ(reason(ack), "malformed: noticeAcknowledged.notificationId is longer than 1307 bytes");
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

// The string check reads the event's serialization (issue 14). Its oracle here is the walk it
// replaced: reflection over the set fields in field-number order, depth first, with the limits
// proto/README.md documents. Every string field the contract has, at every depth, is made bad on
// its own and in pairs; the reason must be the one the walk gives, word for word.
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

size_t documented_limit(const FieldDescriptor& f) {
  static const std::map<std::string, size_t> kLimits = {
      {"samordna.v1.Admitted.care_unit", 256},
      {"samordna.v1.WardChanged.care_unit", 256},
      {"samordna.v1.NeedsAssessed.outpatient_unit", 256},
      {"samordna.v1.CareContactAppointed.unit", 256},
      {"samordna.v1.Discharged.reason", 4096}};
  const auto it = kLimits.find(f.full_name());
  return it == kLimits.end() ? 1024 : it->second;
}

std::optional<std::string> walk(const Message& m) {
  const auto* reflection = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    const int n = f->is_repeated() ? reflection->FieldSize(m, f) : 1;
    for (int i = 0; i < n; ++i) {
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        const std::string v =
            f->is_repeated() ? reflection->GetRepeatedString(m, f, i) : reflection->GetString(m, f);
        if (v.size() > documented_limit(*f)) {
          return f->json_name() + " is longer than " + std::to_string(documented_limit(*f)) +
                 " bytes";
        }
        if (v.find('\0') != std::string::npos) return f->json_name() + " holds a NUL character";
      } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        const Message& sub = f->is_repeated() ? reflection->GetRepeatedMessage(m, f, i)
                                              : reflection->GetMessage(m, f);
        if (auto bad = walk(sub)) return f->json_name() + "." + *bad;
      }
    }
  }
  return std::nullopt;
}

// Every string field reachable from Event: the chain of fields to it.
using Path = std::vector<const FieldDescriptor*>;
void string_paths(const google::protobuf::Descriptor* d, Path& at,
                  std::set<const google::protobuf::Descriptor*>& open, std::vector<Path>& out) {
  if (!open.insert(d).second) return;  // a recursive type: once is enough
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    at.push_back(f);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) out.push_back(at);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_map()) {
      string_paths(f->message_type(), at, open, out);
    }
    at.pop_back();
  }
  open.erase(d);
}

// Sets the string at `path` in `e` (a repeated one gets a good element before it).
void set_at(Message& e, const Path& path, const std::string& value) {
  Message* m = &e;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    const FieldDescriptor* f = path[i];
    auto* r = m->GetReflection();
    m = f->is_repeated()
            ? (r->FieldSize(*m, f) > 0 ? r->MutableRepeatedMessage(m, f, 0) : r->AddMessage(m, f))
            : r->MutableMessage(m, f);
  }
  const FieldDescriptor* f = path.back();
  if (f->is_repeated()) {
    m->GetReflection()->AddString(m, f, "fine");
    m->GetReflection()->AddString(m, f, value);
  } else {
    m->GetReflection()->SetString(m, f, value);
  }
}

std::vector<Path> event_string_paths() {
  std::vector<Path> paths;
  Path at;
  std::set<const google::protobuf::Descriptor*> open;
  string_paths(v1::Event::descriptor(), at, open, paths);
  return paths;
}

std::string too_long(const Path& p) { return std::string(documented_limit(*p.back()) + 1, 'x'); }
const std::string kNul("a\0b", 3);

// Some strings have their own, earlier checks (required, at most 256 bytes: the ids, the source,
// an acknowledgement's): only their NUL reaches the string check.
bool checked_earlier(const Path& p) {
  const std::string& top = p[0]->name();
  return top == "event_id" || top == "episode_id" || top == "source" ||
         top == "notice_acknowledged";
}

// What the earlier checks require of an acknowledgement, where a path made it the payload.
void complete(v1::Event& e) {
  if (e.payload_case() != v1::Event::kNoticeAcknowledged) return;
  auto* ack = e.mutable_notice_acknowledged();
  if (ack->notification_id().empty()) ack->set_notification_id("ep1/e/r/1");
  if (ack->by().kind() == v1::Organisation::KIND_UNSPECIFIED) {
    ack->mutable_by()->set_kind(v1::Organisation::MUNICIPALITY);
  }
  if (ack->by().id().empty()) ack->mutable_by()->set_id("0380");
}

TEST(ValidateEvent, EveryStringFieldIsCheckedAsTheReflectionWalkChecksIt) {
  const std::vector<Path> paths = event_string_paths();
  ASSERT_GT(paths.size(), 15u);  // the contract's strings, at every depth
  int compared = 0;
  for (const Path& p : paths) {
    for (const std::string& value : {too_long(p), kNul}) {
      if (checked_earlier(p) && value != kNul) continue;
      v1::Event e = admitted();
      set_at(e, p, value);
      complete(e);
      const auto expected = walk(e);
      ASSERT_TRUE(expected.has_value()) << p.back()->full_name();
      EXPECT_EQ(reason(e), "malformed: " + *expected) << p.back()->full_name();
      ++compared;
    }
  }
  EXPECT_GT(compared, 25);
}

TEST(ValidateEvent, OfTwoBadStringsTheOneTheWalkMeetsFirstIsNamed) {
  const std::vector<Path> paths = event_string_paths();
  int compared = 0;
  for (const Path& a : paths) {
    for (const Path& b : paths) {
      if (a == b || checked_earlier(a)) continue;
      v1::Event e = admitted();
      set_at(e, a, too_long(a));
      set_at(e, b, kNul);
      complete(e);
      const auto expected = walk(e);
      ASSERT_TRUE(expected.has_value());
      EXPECT_EQ(reason(e), "malformed: " + *expected)
          << a.back()->full_name() << " and " << b.back()->full_name();
      ++compared;
    }
  }
  EXPECT_GT(compared, 150);
}

// Fields the reader does not know (a newer sender's), a group among them, are passed over.
TEST(ValidateEvent, UnknownFieldsAreNotStrings) {
  v1::Event e = admitted();
  std::string bytes = e.SerializeAsString();
  // field 900: a string with a NUL in it; field 901: a group holding a varint; field 902: fixed64
  bytes += std::string(
      "\xa2\x38\x03"
      "a\0b",
      6);
  bytes += std::string(
      "\xab\x38"
      "\x08\x01"
      "\xac\x38",
      6);
  bytes += std::string(
      "\xb1\x38"
      "12345678",
      10);
  v1::Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  ASSERT_EQ(parsed.GetReflection()->GetUnknownFields(parsed).field_count(), 3);
  EXPECT_EQ(reason(parsed), "accepted");
  parsed.mutable_admitted()->mutable_patient()->set_name(kNul);
  EXPECT_EQ(reason(parsed), "malformed: admitted.patient.name holds a NUL character");
}

}  // namespace
}  // namespace samordna::state
