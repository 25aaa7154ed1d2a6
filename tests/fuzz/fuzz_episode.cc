// Fuzzes the state machine over a whole episode: the input's lines are Event JSON lines, applied in
// order to one episode (each line's episodeId replaced), with the timers its clock passes fired
// before each, as the pipeline drives it. Must never crash, throw, hang or leak. After every step
// (event or timer) the state must be what the write-behind replay's size check relies on
// (engine/state/state_size.h): no string longer than longest_state_string(), no unknown field, and
// its serialized size within SizeBound's bound.

#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/json_codec.h"
#include "engine/state/episode_machine.h"
#include "engine/state/state_size.h"
#include "samordna/v1/event.pb.h"
#include "tests/unit/state/state_testing.h"

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// No unknown field anywhere in `m`.
bool no_unknown_fields(const Message& m) {
  const Reflection& r = *m.GetReflection();
  if (r.GetUnknownFields(m).field_count() != 0) return false;
  std::vector<const FieldDescriptor*> set;
  r.ListFields(m, &set);
  for (const FieldDescriptor* f : set) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const int n = f->is_repeated() ? r.FieldSize(m, f) : 1;
    for (int k = 0; k < n; ++k) {
      if (!no_unknown_fields(f->is_repeated() ? r.GetRepeatedMessage(m, f, k)
                                              : r.GetMessage(m, f))) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace samordna;
  static const rules::RuleBook rules = state::testing::statutory_book();
  static const size_t longest = state::longest_state_string(rules);
  static const state::SizeBound bound(longest);
  static JsonCodec codec;
  std::optional<storage::v1::EpisodeState> st;
  auto take = [&](state::Transition t) {
    if (t.outcome != state::Transition::Outcome::kApplied) return;
    st = std::move(t.next);
    if (st->ByteSizeLong() > bound(*st) || state::testing::longest_string(*st) > longest ||
        !no_unknown_fields(*st)) {
      std::abort();
    }
  };
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (int lines = 0; !rest.empty() && lines < 64; ++lines) {
    const size_t end = std::min(rest.find('\n'), rest.size());
    const std::string_view line = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));
    v1::Event event;
    std::string message;
    if (!codec.parse(line, event, message)) continue;
    event.set_episode_id("ep");
    // The clock: a minute after the event, as a feed read live; an instant out of range is the
    // epoch (validate_event refuses the event).
    Instant now{};
    if (valid_timestamp(event.occurred_at())) {
      now = from_proto(event.occurred_at()) + std::chrono::minutes{1};
    }
    while (st) {  // the timers due by then, earliest first
      const auto& timers = st->timers();
      auto next = std::min_element(timers.begin(), timers.end(), [](const auto& a, const auto& b) {
        return a.fire_at() < b.fire_at();
      });
      if (next == timers.end() || from_unix(next->fire_at()) > now) break;
      const state::TimerFired fired{next->kind(), next->deadline(), from_unix(next->fire_at())};
      take(state::fire_timer(*st, fired, rules, now));
    }
    auto step = state::apply_event(st ? &*st : nullptr, event, rules, now);
    if (step) take(std::move(step.value()));
  }
  return 0;
}
