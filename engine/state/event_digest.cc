#include "engine/state/event_digest.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <optional>
#include <string>

namespace samordna::state {

uint64_t episode_fnv1a(std::string_view bytes, uint64_t h) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime64;
  }
  return h;
}

uint64_t event_digest(const v1::Event& original) {
  // recordedAt left out: a copy without it, only when it is set (every event is digested, and a
  // copy is a whole tree of allocations).
  std::optional<v1::Event> without;
  const v1::Event* event = &original;
  if (original.has_recorded_at()) {
    without.emplace(original);
    without->clear_recorded_at();
    event = &*without;
  }
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    event->SerializeToCodedStream(&out);
  }
  return episode_fnv1a(bytes);
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
