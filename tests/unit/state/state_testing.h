#pragma once

// What the state machine's tests and its fuzz target (tests/fuzz/fuzz_episode.cc) share.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

#include "engine/state/episode_machine.h"
#include "rules/rule_set.h"

namespace samordna::state::testing {

// The statutory rules as a rule set file would give them, with daily rates for three years and a
// reminder a day before the SIP invitation is due.
inline rules::RuleBook statutory_book() {
  rules::RuleSet set;
  set.id = "test-statutory";
  set.title = "statutory default for tests";
  set.source = "test:1";
  set.valid_from = date::year{2018} / 1 / 1;
  set.liability.daily_rate_sek = {{2019, 7800}, {2020, 8200}, {2022, 9300}};
  set.reminder_lead[v1::SIP_INVITATION] = std::chrono::hours{24};
  return rules::RuleBook({set});
}

// What SizeBound asks of a state (engine/state/state_size.h), read from the whole message.
struct Strings {
  size_t longest = 0;    // the longest string anywhere in it
  bool unknown = false;  // an unknown field anywhere in it
};
inline Strings strings_of(const google::protobuf::Message& m) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection& r = *m.GetReflection();
  Strings out;
  out.unknown = r.GetUnknownFields(m).field_count() != 0;
  std::vector<const FieldDescriptor*> set;
  r.ListFields(m, &set);
  for (const FieldDescriptor* f : set) {
    const int n = f->is_repeated() ? r.FieldSize(m, f) : 1;
    for (int k = 0; k < n; ++k) {
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        out.longest = std::max(out.longest, f->is_repeated() ? r.GetRepeatedString(m, f, k).size()
                                                             : r.GetString(m, f).size());
      } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        const Strings sub =
            strings_of(f->is_repeated() ? r.GetRepeatedMessage(m, f, k) : r.GetMessage(m, f));
        out.longest = std::max(out.longest, sub.longest);
        out.unknown = out.unknown || sub.unknown;
      }
    }
  }
  return out;
}

// The episode's earliest timer due by `now`, as the pipeline fires them (earliest first, before
// the input at `now`); nullopt when none is.
inline std::optional<TimerFired> due_timer(const storage::v1::EpisodeState& state, Instant now) {
  const auto& timers = state.timers();
  const auto next =
      std::min_element(timers.begin(), timers.end(),
                       [](const auto& a, const auto& b) { return a.fire_at() < b.fire_at(); });
  if (next == timers.end() || from_unix(next->fire_at()) > now) return std::nullopt;
  return TimerFired{next->kind(), next->deadline(), from_unix(next->fire_at())};
}

}  // namespace samordna::state::testing
