#include "engine/state/event_digest.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <string>

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

TEST(EventDigest, KeysSeparateSourceFromEventId) {
  EXPECT_NE(event_key("a", "bc"), event_key("ab", "c"));
  EXPECT_NE(event_key("", "1"), event_key("x", "1"));
  EXPECT_NE(event_key("x", "1"), event_key("y", "1"));
  EXPECT_EQ(event_key("hl7:X", "1"), event_key("hl7:X", "1"));
}

}  // namespace
}  // namespace samordna::state
