#pragma once

// The hashes an episode keeps to recognise events it has applied (duplicate detection). Both are
// persisted in EpisodeState, so they must never change: a stored digest has to match the same
// event after an upgrade, on another machine.

#include <cstdint>
#include <string>
#include <string_view>

#include "samordna/v1/event.pb.h"

namespace samordna::state {

// FNV-1a, 64 bits, with this offset basis. It is NOT the standard FNV-1a offset basis
// (14695981039346656037, which has one digit more): the first release used this value and its
// digests are stored, so it stays. tests/unit/state/event_digest_test.cc pins it.
inline constexpr uint64_t kEpisodeDigestOffsetBasis = 1469598103934665603ULL;
inline constexpr uint64_t kFnvPrime64 = 1099511628211ULL;

uint64_t episode_fnv1a(std::string_view bytes, uint64_t h = kEpisodeDigestOffsetBasis);

// An event's deterministic serialization, made once for its checks (validate_event reads its
// strings from it) and its digest, and where the recordedAt record lies in it.
struct EventBytes {
  std::string bytes;
  size_t recorded_begin = 0;  // [recorded_begin, recorded_end): recordedAt's record, if set
  size_t recorded_end = 0;
};
void serialize_event(const v1::Event& event, EventBytes& out);

// Of the event's deterministic serialization, recordedAt left out: a source that publishes the
// same event again is repeating itself, not contradicting itself. Equal digests under one key are
// a duplicate, different ones a conflict. The serializer writes each field's record whole and in
// field-number order, so the bytes around recordedAt's record are exactly the serialization of the
// event without it (what the first release hashed, from a copy with the field cleared).
uint64_t event_digest(const EventBytes& event);
uint64_t event_digest(const v1::Event& event);

// The duplicate-detection key of (source, eventId): the source's length (8 bytes, little-endian),
// the source, then the event id, so that no two pairs hash the same bytes. Two different pairs of
// one episode share a key with probability about n^2 / 2^65 (n = events of the episode, at most
// kMaxEventsPerEpisode): then the later event would be taken for a duplicate or a conflict.
uint64_t event_key(std::string_view source, std::string_view event_id);

}  // namespace samordna::state
