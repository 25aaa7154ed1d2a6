#pragma once

// Why the engine decided what it did, for one episode: for each deadline the rule, the anchor, the
// arithmetic and the outcome, and how payment liability was settled. Recomputes the arithmetic with
// the same rules/deadlines.h functions the state machine used, so the two cannot drift apart.
// Prints no personal data: ids, units, times and rules only.

#include <string>

#include "rules/rule_set.h"
#include "samordna/v1/storage.pb.h"

namespace samordna::state {

std::string explain(const storage::v1::EpisodeState& state, const rules::RuleBook& rules);

// One deadline's arithmetic in one line ("<law>: <step>; <step>; due <local>"), from the same
// steps explain() prints. For EpisodeView.
std::string explain_deadline(const storage::v1::EpisodeState& state,
                             const storage::v1::DeadlineRecord& deadline,
                             const rules::RuleSet& rules);

}  // namespace samordna::state
