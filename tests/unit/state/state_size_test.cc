#include "engine/state/state_size.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "engine/state/episode_machine.h"
#include "tests/unit/state/state_testing.h"

namespace samordna::state {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Every field of `m` at its largest: each string `longest` bytes, each number at its longest
// encoding (a negative int32, int64 or enum takes ten bytes), each repeated field `count` such
// elements, except `many` which gets `many_count`.
void fill(Message& m, size_t longest, int count, const FieldDescriptor* many, int many_count,
          int depth = 0) {
  ASSERT_LT(depth, 8);
  const Reflection& r = *m.GetReflection();
  const Descriptor& d = *m.GetDescriptor();
  for (int i = 0; i < d.field_count(); ++i) {
    const FieldDescriptor* f = d.field(i);
    const int n = !f->is_repeated() ? 1 : f == many ? many_count : count;
    for (int k = 0; k < n; ++k) {
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_STRING: {
          const std::string s(longest, 'x');
          f->is_repeated() ? r.AddString(&m, f, s) : r.SetString(&m, f, s);
          break;
        }
        case FieldDescriptor::CPPTYPE_MESSAGE: {
          Message* sub = f->is_repeated() ? r.AddMessage(&m, f) : r.MutableMessage(&m, f);
          fill(*sub, longest, count, many, many_count, depth + 1);
          break;
        }
        case FieldDescriptor::CPPTYPE_INT32:
          f->is_repeated() ? r.AddInt32(&m, f, -1) : r.SetInt32(&m, f, -1);
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          f->is_repeated() ? r.AddInt64(&m, f, -1) : r.SetInt64(&m, f, -1);
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          f->is_repeated() ? r.AddUInt32(&m, f, ~0U) : r.SetUInt32(&m, f, ~0U);
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          f->is_repeated() ? r.AddUInt64(&m, f, ~0ULL) : r.SetUInt64(&m, f, ~0ULL);
          break;
        case FieldDescriptor::CPPTYPE_ENUM:
          f->is_repeated() ? r.AddEnumValue(&m, f, -1) : r.SetEnumValue(&m, f, -1);
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          f->is_repeated() ? r.AddBool(&m, f, true) : r.SetBool(&m, f, true);
          break;
        default:
          FAIL() << f->full_name() << ": a state holds no floating point";
      }
    }
  }
}

std::vector<const FieldDescriptor*> repeated_fields() {
  std::vector<const FieldDescriptor*> out;
  std::vector<const Descriptor*> todo = {storage::v1::EpisodeState::descriptor()};
  std::vector<const Descriptor*> seen;
  while (!todo.empty()) {
    const Descriptor* d = todo.back();
    todo.pop_back();
    if (std::find(seen.begin(), seen.end(), d) != seen.end()) continue;
    seen.push_back(d);
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (f->is_repeated()) out.push_back(f);
      if (f->message_type() != nullptr) todo.push_back(f->message_type());
    }
  }
  return out;
}

// The bound holds for any state whose strings are no longer than it was made for, whatever the
// state machine does: every field at its largest, and each repeated field in turn with a thousand
// elements. A repeated field operator() did not count adds far more than the bound's slack.
TEST(SizeBound, HoldsForEveryFieldAtItsLargestAndEachRepeatedFieldAThousandTimes) {
  constexpr size_t kLongest = 300;
  const SizeBound bound(kLongest);
  storage::v1::EpisodeState every;
  fill(every, kLongest, 3, nullptr, 0);
  EXPECT_LE(every.ByteSizeLong(), bound(every));
  const auto fields = repeated_fields();
  ASSERT_GE(fields.size(), 14U);
  for (const FieldDescriptor* f : fields) {
    storage::v1::EpisodeState s;
    fill(s, kLongest, 3, f, 1000);
    EXPECT_LE(s.ByteSizeLong(), bound(s)) << f->full_name();
    EXPECT_GT(s.ByteSizeLong(), every.ByteSizeLong() + 900 * 8) << f->full_name();
  }
}

// The same state measured with strings shorter than it holds: the comparison above can fail.
TEST(SizeBound, MadeForShorterStringsThanTheStateHoldsItIsBelowTheSize) {
  storage::v1::EpisodeState s;
  fill(s, 300, 3, nullptr, 0);
  EXPECT_GT(s.ByteSizeLong(), SizeBound(100)(s));
}

// What engine/README.md and the README say of the bound, and why nearly every step of a replay
// takes it: an empty state bounds at 62 KB, a notice adds 12.4 KB, a deadline, a deadline's
// recipient or a unit notified 4.1 to 4.2 KB, so a state meets the 900 KiB limit only past some 60
// notices.
TEST(SizeBound, AnEmptyStateBoundsAt62KBANotice12KBAndADeadlineOrRecipient4KB) {
  const SizeBound bound(longest_state_string(testing::statutory_book()));
  storage::v1::EpisodeState s;
  size_t before = bound(s);
  EXPECT_NEAR(static_cast<double>(before), 62'000, 1'000);
  auto added = [&] {
    const size_t now = bound(s);
    const size_t by = now - before;
    before = now;
    return static_cast<double>(by);
  };
  s.add_notices();
  EXPECT_NEAR(added(), 12'400, 200);
  s.add_deadlines();
  EXPECT_NEAR(added(), 4'150, 100);
  s.mutable_deadlines(0)->add_recipients();
  EXPECT_NEAR(added(), 4'150, 100);
  s.add_notified();
  EXPECT_NEAR(added(), 4'150, 100);
}

// --- the state machine keeps its strings within longest_state_string() -----------------------

// Drives one episode with every id and string at its limit, and checks each state it steps
// through: no string longer than longest_state_string(), no unknown field, and within the bound.
class HostileEpisode {
 public:
  explicit HostileEpisode(std::string source)
      : source_(std::move(source)), bound_(longest_state_string(book_)) {}

  // Applies one event at `occurred` (seen a minute later), after the timers due by then.
  std::vector<v1::Notification> apply(const std::string& payload, const std::string& occurred) {
    const Instant now = parse_rfc3339(occurred).value() + std::chrono::minutes{1};
    advance(now);
    v1::Event e;
    const std::string json = R"({"eventId":")" + std::string(250, 'e') +
                             std::to_string(100000 + n_++) + R"(","episodeId":")" + episode_ +
                             R"(","source":")" + source_ + R"(","occurredAt":")" + occurred +
                             R"(",)" + payload + "}";
    const auto status = google::protobuf::util::JsonStringToMessage(json, &e);
    EXPECT_TRUE(status.ok()) << status.message();
    auto r = apply_event(state_ ? &*state_ : nullptr, e, book_, now);
    EXPECT_TRUE(r.has_value()) << payload << ": " << (r ? "" : r.error().reason);
    if (!r || r.value().outcome != Transition::Outcome::kApplied) return {};
    take(std::move(r.value()));
    return last_;
  }

  void advance(Instant now) {
    while (state_) {
      const auto fired = testing::due_timer(*state_, now);
      if (!fired) break;
      take(fire_timer(*state_, *fired, book_, now));
    }
  }

  size_t steps() const { return steps_; }
  size_t longest() const { return longest_; }
  const std::string& unit() const { return unit_; }

 private:
  void take(Transition t) {
    state_ = std::move(t.next);
    last_ = std::move(t.notifications);
    ++steps_;
    EXPECT_LE(state_->ByteSizeLong(), bound_(*state_)) << "step " << steps_;
    const testing::Strings strings = testing::strings_of(*state_);
    EXPECT_FALSE(strings.unknown) << "step " << steps_;
    const size_t longest = strings.longest;
    EXPECT_LE(longest, longest_state_string(book_)) << "step " << steps_;
    longest_ = std::max(longest_, longest);
  }

  rules::RuleBook book_ = testing::statutory_book();
  std::string source_;
  SizeBound bound_;
  std::string episode_ = std::string(256, 'p');
  std::string unit_ = std::string(256, 'v');
  std::optional<storage::v1::EpisodeState> state_;
  std::vector<v1::Notification> last_;
  int n_ = 0;
  size_t steps_ = 0;
  size_t longest_ = 0;
};

void drive(HostileEpisode& ep) {
  const std::string name(1024, 'n'), address(1024, 'a'), ward(256, 'w'), contact(256, 'c');
  ep.apply(R"("admitted":{"patient":{"personalId":"195704289999","name":")" + name +
               R"(","address":")" + address + R"(","homeMunicipality":"0380"},"careUnit":")" +
               ward + R"(","region":"03","careType":"SOMATIC"})",
           "2022-03-01T08:00:00Z");
  ep.apply(R"("consentRecorded":{"scope":"INFORMATION_SHARING","granted":true})",
           "2022-03-01T08:10:00Z");
  const auto notices = ep.apply(
      R"("needsAssessed":{"needs":["SOCIAL_SERVICES","MUNICIPAL_HEALTH_CARE","OUTPATIENT_CARE"],"outpatientUnit":")" +
          ep.unit() + R"(","estimatedDischargeAt":"2022-03-10T10:00:00Z"})",
      "2022-03-01T09:00:00Z");
  EXPECT_GE(notices.size(), 3U);
  for (int i = 0; i < 6; ++i) {
    const std::string day = std::to_string(11 + i);
    ep.apply(R"("estimatedDischargeChanged":{"estimatedDischargeAt":"2022-03-)" + day +
                 R"(T10:00:00Z"})",
             "2022-03-02T0" + std::to_string(i) + ":00:00Z");
    ep.apply(R"("wardChanged":{"careUnit":")" + std::string(255, 'w') + std::to_string(i) + "\"}",
             "2022-03-02T0" + std::to_string(i) + ":30:00Z");
  }
  {
    for (const auto& n : notices) {
      if (!n.has_admission_notice() || n.admission_notice().recipient().unit() != ep.unit()) {
        continue;
      }
      ep.apply(R"("noticeAcknowledged":{"notificationId":")" + n.notification_id() +
                   R"(","by":{"kind":"OUTPATIENT_UNIT","id":")" + ep.unit() + R"("},"person":")" +
                   std::string(256, 'q') + "\"}",
               "2022-03-02T12:00:00Z");
    }
  }
  ep.apply(R"("careContactAppointed":{"unit":")" + contact + "\"}", "2022-03-02T13:00:00Z");
  ep.apply(R"("patientDataUpdated":{"name":")" + std::string(1024, 'm') + R"(","address":")" +
               std::string(1024, 'b') + "\"}",
           "2022-03-02T14:00:00Z");
  ep.apply(R"("outpatientServicesUnavailable":{"unavailable":true})", "2022-03-03T08:00:00Z");
  ep.apply(R"("outpatientServicesUnavailable":{"unavailable":false})", "2022-03-03T09:00:00Z");
  ep.apply(R"("dischargeReady":{})", "2022-03-04T08:00:00Z");
  ep.apply(R"("dischargeReadyRevoked":{})", "2022-03-04T20:00:00Z");
  ep.apply(R"("dischargeReady":{})", "2022-03-05T08:00:00Z");
  ep.apply(R"("consentRecorded":{"scope":"SIP","granted":true})", "2022-03-05T09:00:00Z");
  ep.apply(R"("discharged":{"reason":")" + std::string(4096, 'r') + "\"}", "2022-03-12T08:00:00Z");
  ep.apply(R"("dischargeCancelled":{})", "2022-03-12T09:00:00Z");
  ep.apply(R"("discharged":{})", "2022-03-14T08:00:00Z");
  ep.apply(R"("informationTransferred":{})", "2022-03-14T09:00:00Z");
  ep.advance(parse_rfc3339("2022-05-01T00:00:00Z").value());
  ep.apply(R"("sipInvitationSent":{})", "2022-03-06T09:00:00Z");  // late: resettles
}

TEST(SizeBound, AnEpisodeWithEveryIdAtItsLimitKeepsItsStringsWithinTheLongest) {
  HostileEpisode ep("");
  drive(ep);
  EXPECT_GE(ep.steps(), 30U);
  EXPECT_GE(ep.longest(), 1024U);  // the patient's name and address
}

// A source of 256 '%' is percent-encoded into each notification id: the longest ids there are.
TEST(SizeBound, ASourceOfEscapedBytesMakesTheLongestNotificationIdsWithinTheLongest) {
  HostileEpisode ep(std::string(256, '%'));
  drive(ep);  // its notices acknowledged by their 1,288-byte ids
  EXPECT_GE(ep.steps(), 30U);
  EXPECT_GT(ep.longest(), 1280U);
}

}  // namespace
}  // namespace samordna::state
