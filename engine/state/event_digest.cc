#include "engine/state/event_digest.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <string>

#include "engine/core/check.h"
#include "engine/core/wire.h"

namespace samordna::state {

uint64_t episode_fnv1a(std::string_view bytes, uint64_t h) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime64;
  }
  return h;
}

void serialize_event(const v1::Event& event, EventBytes& out) {
  out.bytes.clear();
  {
    google::protobuf::io::StringOutputStream stream(&out.bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    event.SerializeToCodedStream(&coded);
  }
  out.recorded_begin = out.recorded_end = 0;
  if (!event.has_recorded_at()) return;
  // The top level's records, to the recordedAt one: each is read whole, so a field number inside
  // a nested message is never taken for it.
  constexpr uint64_t kRecordedAt = v1::Event::kRecordedAtFieldNumber;
  wire::Reader r{out.bytes};
  uint64_t tag = 0;
  while (true) {
    const size_t begin = r.at;
    SAMORDNA_CHECK(r.varint(tag) && r.skip(tag), "an event's own serialization reads back");
    if ((tag >> 3) == kRecordedAt) {
      out.recorded_begin = begin;
      out.recorded_end = r.at;
      return;
    }
  }
}

uint64_t event_digest(const EventBytes& event) {
  const std::string_view bytes = event.bytes;
  return episode_fnv1a(bytes.substr(event.recorded_end),
                       episode_fnv1a(bytes.substr(0, event.recorded_begin)));
}

uint64_t event_digest(const v1::Event& event) {
  thread_local EventBytes bytes;
  serialize_event(event, bytes);
  return event_digest(bytes);
}

uint64_t event_key(std::string_view source, std::string_view event_id) {
  char length[8];
  uint64_t n = source.size();
  for (char& c : length) {
    c = static_cast<char>(n & 0xffu);
    n >>= 8;
  }
  return episode_fnv1a(event_id, episode_fnv1a(source, episode_fnv1a({length, sizeof length})));
}

}  // namespace samordna::state
