// Fuzzes the state machine over a whole episode: the input's lines are Event JSON lines, applied in
// order to one episode (each line's episodeId replaced), with the timers its clock passes fired
// before each, as the pipeline drives it. Must never crash, throw, hang or leak. After every step
// (event or timer) the state must be what the write-behind replay's size check relies on
// (engine/state/state_size.h): no string longer than longest_state_string(), no unknown field, and
// its serialized size within SizeBound's bound; and its view, as `run` writes it (write_view), must
// be the bytes protobuf serializes for the view built field by field.

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
#include "engine/state/episode_view.h"
#include "engine/state/state_size.h"
#include "samordna/v1/event.pb.h"
#include "tests/unit/state/state_testing.h"
#include "tests/unit/state/view_reference.h"

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
    const state::testing::Strings strings = state::testing::strings_of(*st);
    if (st->ByteSizeLong() > bound(*st) || strings.longest > longest || strings.unknown) {
      std::abort();
    }
    std::string view;
    state::write_view(*st, rules, view);
    if (view != state::testing::reference_view(*st, rules).SerializeAsString()) std::abort();
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
      const auto fired = state::testing::due_timer(*st, now);
      if (!fired) break;
      take(state::fire_timer(*st, *fired, rules, now));
    }
    auto step = state::apply_event(st ? &*st : nullptr, event, rules, now);
    if (step) take(std::move(step.value()));
  }
  return 0;
}
