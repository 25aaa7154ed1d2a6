#include "tests/bench/generator/generator.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/core/personal_id.h"
#include "samordna/v1/event.pb.h"

namespace samordna::gen {
namespace {

namespace pb = ::samordna::v1;

struct Output {
  std::string text;
  Stats stats;
};

Output run(Options o) {
  std::ostringstream out;
  Output r;
  r.stats = generate(o, out);
  r.text = out.str();
  return r;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> result;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) result.push_back(line);
  return result;
}

bool parse(const std::string& line, pb::Event& e) {
  e.Clear();
  return google::protobuf::util::JsonStringToMessage(line, &e).ok();
}

std::int64_t processing_time(const pb::Event& e) {
  return e.has_recorded_at() ? e.recorded_at().seconds() : e.occurred_at().seconds();
}

Options small(std::uint64_t episodes, std::uint64_t seed) {
  Options o;
  o.episodes = episodes;
  o.seed = seed;
  return o;
}

TEST(Generator, SameSeedSameBytes) {
  const Output a = run(small(400, 7));
  const Output b = run(small(400, 7));
  const Output c = run(small(400, 8));
  EXPECT_FALSE(a.text.empty());
  EXPECT_EQ(a.text, b.text);
  EXPECT_NE(a.text, c.text);
  EXPECT_EQ(a.stats.bytes, a.text.size());
}

TEST(Generator, ZeroEpisodesWriteNothing) {
  const Output r = run(small(0, 1));
  EXPECT_TRUE(r.text.empty());
  EXPECT_EQ(r.stats.events, 0u);
}

// The contract check: every line is a samordna.v1.Event in canonical JSON, in processing order,
// with unique event ids, an admission before anything else of its episode, and valid ids.
TEST(Generator, EveryLineIsAnOrderedValidEvent) {
  Options o = small(3000, 42);
  o.start = std::chrono::sys_days{std::chrono::year{2025} / 3 / 1};
  o.days = 30;
  const Output r = run(o);
  const auto all = lines(r.text);
  ASSERT_EQ(all.size(), r.stats.events);

  std::set<std::string> event_ids;
  std::map<std::string, std::string> region_of;  // episode -> region, once admitted
  std::int64_t last = std::numeric_limits<std::int64_t>::min();
  std::uint64_t admitted = 0, late = 0, samordning = 0;
  std::map<pb::Event::PayloadCase, std::uint64_t> kinds;
  pb::Event e;
  std::string again;
  for (const auto& line : all) {
    ASSERT_TRUE(parse(line, e)) << line;
    again.clear();
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(e, &again).ok());
    EXPECT_EQ(again, line) << "not the canonical JSON mapping";
    ASSERT_NE(e.payload_case(), pb::Event::PAYLOAD_NOT_SET) << line;
    ++kinds[e.payload_case()];

    const std::int64_t t = processing_time(e);
    ASSERT_GE(t, last) << "out of order: " << line;
    last = t;
    if (e.has_recorded_at()) {
      ++late;
      EXPECT_GT(e.recorded_at().seconds(), e.occurred_at().seconds()) << line;
    }
    EXPECT_EQ(e.occurred_at().nanos(), 0);

    EXPECT_TRUE(event_ids.insert(e.event_id()).second) << "duplicate " << e.event_id();
    EXPECT_EQ(e.event_id().rfind(e.episode_id() + "-", 0), 0u) << e.event_id();
    EXPECT_EQ(e.episode_id().rfind("ep-", 0), 0u);
    EXPECT_GE(e.episode_id().size(), 9u);

    if (e.has_admitted()) {
      ++admitted;
      const auto& a = e.admitted();
      EXPECT_TRUE(region_of.emplace(e.episode_id(), a.region()).second) << "admitted twice";
      auto id = validate_personal_id(a.patient().personal_id());
      ASSERT_TRUE(id.has_value()) << e.episode_id() << ": " << id.error().message;
      if (id.value() == PersonalIdKind::kSamordningsnummer) ++samordning;
      ASSERT_EQ(a.patient().home_municipality().size(), 4u);
      EXPECT_EQ(a.region(), a.patient().home_municipality().substr(0, 2));
      EXPECT_FALSE(a.patient().name().empty());
      EXPECT_FALSE(a.patient().address().empty());
      EXPECT_FALSE(a.care_unit().empty());
      EXPECT_NE(a.care_type(), pb::CARE_TYPE_UNSPECIFIED);
      // Admissions fall in the requested local days (1 March 2025 is CET, +01:00).
      const auto start = std::chrono::sys_seconds{o.start} - std::chrono::hours{1};
      EXPECT_GE(e.occurred_at().seconds(), start.time_since_epoch().count());
      EXPECT_LT(
          e.occurred_at().seconds(),
          (start + std::chrono::days{o.days} + std::chrono::hours{1}).time_since_epoch().count());
    } else {
      EXPECT_TRUE(region_of.count(e.episode_id())) << "event before its admission: " << line;
    }
    if (e.has_needs_assessed()) {
      EXPECT_TRUE(e.needs_assessed().has_estimated_discharge_at());
      EXPECT_GT(e.needs_assessed().needs_size(), 0);
    }
    if (e.has_consent_recorded()) {
      EXPECT_NE(e.consent_recorded().scope(), pb::ConsentRecorded::SCOPE_UNSPECIFIED);
    }
    if (e.has_care_contact_appointed()) {
      EXPECT_FALSE(e.care_contact_appointed().unit().empty());
    }
  }
  EXPECT_EQ(admitted, 3000u);
  EXPECT_EQ(samordning, r.stats.samordningsnummer);
  EXPECT_EQ(late, r.stats.late_events);

  // Every kind of event of the contract shows up in a few thousand episodes.
  for (auto k :
       {pb::Event::kAdmitted, pb::Event::kNeedsAssessed, pb::Event::kEstimatedDischargeChanged,
        pb::Event::kConsentRecorded, pb::Event::kCareContactAppointed, pb::Event::kDischargeReady,
        pb::Event::kDischargeReadyRevoked, pb::Event::kInformationTransferred,
        pb::Event::kSipInvitationSent, pb::Event::kAdmissionCancelled,
        pb::Event::kOutpatientServicesUnavailable, pb::Event::kDischarged}) {
    EXPECT_GT(kinds[k], 0u) << "no event with payload case " << k;
  }
}

TEST(Generator, SharesAreRoughlyAsDocumented) {
  const Output r = run(small(20000, 3));
  const auto share = [&](std::uint64_t n) {
    return static_cast<double>(n) / static_cast<double>(r.stats.episodes);
  };
  const Stats& s = r.stats;
  EXPECT_NEAR(share(s.psychiatric), 0.15, 0.02);
  EXPECT_NEAR(share(s.samordningsnummer), 0.02, 0.006);
  EXPECT_NEAR(share(s.no_needs), 0.10, 0.015);
  EXPECT_NEAR(share(s.cancelled), 0.01, 0.004);
  EXPECT_NEAR(share(s.revoked), 0.03 * 0.89, 0.008);
  EXPECT_NEAR(share(s.info_consent_missing + s.info_consent_late), 0.05 * 0.89, 0.01);
  EXPECT_NEAR(static_cast<double>(s.sip_declined) / static_cast<double>(s.sip_required), 0.05,
              0.015);
  EXPECT_NEAR(static_cast<double>(s.late_events) / static_cast<double>(s.events), 0.03 * 0.9,
              0.008);
  EXPECT_GT(s.late_assessment, 0u);
  EXPECT_GT(s.outpatient_unavailable, 0u);
  EXPECT_GT(s.estimate_changed, 0u);
  EXPECT_GT(s.care_contact_never, 0u);
  EXPECT_GT(s.sip_late, 0u);
  EXPECT_GT(s.info_after_discharge_day, 0u);
  EXPECT_GT(static_cast<double>(s.events) / static_cast<double>(s.episodes), 6.0);
  EXPECT_LT(s.max_pending_events, s.events / 4);  // the merge keeps only the open window
}

TEST(Generator, InvalidLinesOnlyWhenAsked) {
  Options o = small(1000, 5);
  o.emit_invalid = 0.05;
  const Output r = run(o);
  const auto all = lines(r.text);
  ASSERT_EQ(all.size(), r.stats.events + r.stats.invalid_lines);
  EXPECT_NEAR(static_cast<double>(r.stats.invalid_lines) / static_cast<double>(r.stats.events),
              0.05, 0.015);

  std::uint64_t malformed = 0, bad_id = 0, unknown = 0;
  std::int64_t last = std::numeric_limits<std::int64_t>::min();
  pb::Event e;
  for (const auto& line : all) {
    if (!parse(line, e)) {
      ++malformed;
      continue;
    }
    ASSERT_GE(processing_time(e), last) << line;
    last = processing_time(e);
    if (e.episode_id().rfind("ep-invalid-", 0) == 0) {
      ++bad_id;
      ASSERT_TRUE(e.has_admitted());
      EXPECT_FALSE(validate_personal_id(e.admitted().patient().personal_id()).has_value());
    } else if (e.episode_id().rfind("ep-unknown-", 0) == 0) {
      ++unknown;
      EXPECT_FALSE(e.has_admitted());
    }
  }
  EXPECT_GT(malformed, 0u);
  EXPECT_GT(bad_id, 0u);
  EXPECT_GT(unknown, 0u);
  EXPECT_EQ(malformed + bad_id + unknown, r.stats.invalid_lines);

  // The valid events are the same as without --emit-invalid.
  const Output clean = run(small(1000, 5));
  EXPECT_EQ(clean.stats.events, r.stats.events);
}

}  // namespace
}  // namespace samordna::gen
