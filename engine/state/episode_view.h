#pragma once

// The public projection of an episode (samordna.v1.EpisodeView) from its storage record: what the
// read side (HTTP API, web app) builds from, so that it never depends on EpisodeState. Pure: the
// same state and rules give the same view.

#include "rules/rule_set.h"
#include "samordna/v1/episode_view.pb.h"
#include "samordna/v1/storage.pb.h"

namespace samordna::state {

// `rules` gives each deadline's one-line explanation (empty when the episode's rule set is gone).
v1::EpisodeView view_of(const storage::v1::EpisodeState& state, const rules::RuleBook& rules);
// The same into `out`, cleared first: a caller that makes views over and over (every changed
// episode of every transaction) reuses the strings and repeated elements out held before.
void view_of(const storage::v1::EpisodeState& state, const rules::RuleBook& rules,
             v1::EpisodeView& out);

}  // namespace samordna::state
