#pragma once

// What the state machine's tests and its fuzz target (tests/fuzz/fuzz_episode.cc) share.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

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

// The length of the longest string anywhere in `m` (what longest_state_string() must bound).
inline size_t longest_string(const google::protobuf::Message& m) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection& r = *m.GetReflection();
  std::vector<const FieldDescriptor*> set;
  r.ListFields(m, &set);
  size_t longest = 0;
  for (const FieldDescriptor* f : set) {
    const int n = f->is_repeated() ? r.FieldSize(m, f) : 1;
    for (int k = 0; k < n; ++k) {
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        longest = std::max(longest, f->is_repeated() ? r.GetRepeatedString(m, f, k).size()
                                                     : r.GetString(m, f).size());
      } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        longest = std::max(longest, longest_string(f->is_repeated() ? r.GetRepeatedMessage(m, f, k)
                                                                    : r.GetMessage(m, f)));
      }
    }
  }
  return longest;
}

}  // namespace samordna::state::testing
