#include "engine/state/event_digest.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace samordna::state {
namespace {

// The offset basis is persisted through every stored digest: it must never change, also not to
// the standard FNV-1a value it differs from by one digit.
TEST(EventDigest, OffsetBasisIsPinned) {
  EXPECT_EQ(kEpisodeDigestOffsetBasis, 1469598103934665603ULL);
  EXPECT_NE(kEpisodeDigestOffsetBasis, 14695981039346656037ULL);  // standard FNV-1a 64
  EXPECT_EQ(kFnvPrime64, 1099511628211ULL);
  EXPECT_EQ(episode_fnv1a(""), kEpisodeDigestOffsetBasis);
}

// The digest of one event, as the first release stored it.
TEST(EventDigest, IsTheStoredValueForAKnownEvent) {
  v1::Event e;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(
          R"({"eventId":"a","episodeId":"ep1","occurredAt":"2022-03-01T08:00:00Z","recordedAt":"2022-03-01T09:00:00Z","admitted":{"patient":{"personalId":"195704289999","name":"Test Testsson","address":"Storgatan 1, Uppsala","homeMunicipality":"0380"},"careUnit":"ward-7","region":"03","careType":"SOMATIC"}})",
          &e)
          .ok());
  EXPECT_EQ(event_digest(e), 10374815144814792937ULL);
  e.clear_recorded_at();  // recordedAt is left out
  EXPECT_EQ(event_digest(e), 10374815144814792937ULL);
  e.set_source("hl7:X");  // the source is not: it names another event
  EXPECT_NE(event_digest(e), 10374815144814792937ULL);
}

// What the first release hashed: the deterministic serialization of a copy of the event with
// recordedAt cleared. The digest now hashes the bytes around recordedAt's record in the event's
// own serialization, with no copy (issue 14); the two must agree for every event.
uint64_t digest_of_a_copy(const v1::Event& original) {
  v1::Event e = original;
  e.clear_recorded_at();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    e.SerializeToCodedStream(&out);
  }
  return episode_fnv1a(bytes);
}

TEST(EventDigest, HashesWhatACopyWithoutRecordedAtSerializesTo) {
  v1::Event e;
  e.set_event_id("a");
  e.set_episode_id("ep1");
  e.mutable_occurred_at()->set_seconds(1646121600);
  e.mutable_discharged()->set_reason("home");
  std::vector<v1::Event> events = {e};
  e.mutable_recorded_at()->set_seconds(1646125200);  // in the middle of the top level's records
  events.push_back(e);
  e.mutable_recorded_at()->Clear();  // set, but empty: a record of length 0
  events.push_back(e);
  e.mutable_recorded_at()->set_nanos(5);
  e.set_source("hl7:X");
  events.push_back(e);
  // A newer sender's fields, kept as unknown ones after every known record (a group among them).
  v1::Event unknown;
  ASSERT_TRUE(unknown.ParseFromString(e.SerializeAsString() +
                                      std::string("\xab\x38"
                                                  "\x08\x01"
                                                  "\xac\x38",
                                                  6) +
                                      std::string("\xa2\x38\x01"
                                                  "z",
                                                  4)));
  events.push_back(unknown);
  EventBytes bytes;
  for (const v1::Event& event : events) {
    EXPECT_EQ(event_digest(event), digest_of_a_copy(event)) << event.ShortDebugString();
    serialize_event(event, bytes);
    EXPECT_EQ(event_digest(bytes), digest_of_a_copy(event));
    if (event.has_recorded_at()) {
      EXPECT_GT(bytes.recorded_end, bytes.recorded_begin);  // the record, found and cut
    }
  }
  EXPECT_EQ(event_digest(events[0]), event_digest(events[1]));  // recordedAt is left out
  EXPECT_EQ(event_digest(events[1]), event_digest(events[2]));
}

TEST(EventDigest, KeysSeparateSourceFromEventId) {
  EXPECT_NE(event_key("a", "bc"), event_key("ab", "c"));
  EXPECT_NE(event_key("", "1"), event_key("x", "1"));
  EXPECT_NE(event_key("x", "1"), event_key("y", "1"));
  EXPECT_EQ(event_key("hl7:X", "1"), event_key("hl7:X", "1"));
}

}  // namespace
}  // namespace samordna::state
