#pragma once

// The public projection of an episode (samordna.v1.EpisodeView) from its storage record: what the
// read side (HTTP API, web app) builds from, so that it never depends on EpisodeState. Pure: the
// same state and rules give the same view.

#include <string>

#include "rules/rule_set.h"
#include "samordna/v1/episode_view.pb.h"
#include "samordna/v1/storage.pb.h"

namespace samordna::state {

// The view serialized (samordna.v1.EpisodeView's wire format), appended to `out` straight from
// the state, with no message built in between: `run` publishes one for every episode every
// transaction changes, and building the message, serializing and clearing it was a quarter of its
// CPU. The bytes are those the generated serializer gives for view_of's message
// (tests/unit/state/episode_view_test.cc over every step of the scenario cases, and
// tests/fuzz/fuzz_episode.cc after every step it tries, compare them with a view built field by
// field). `rules` gives each deadline's one-line explanation (none when the episode's rule set is
// gone).
void write_view(const storage::v1::EpisodeState& state, const rules::RuleBook& rules,
                std::string& out);
// The view as a message: write_view's bytes, parsed.
v1::EpisodeView view_of(const storage::v1::EpisodeState& state, const rules::RuleBook& rules);

// The view's enums for the record's: the view's are the contract's, the record's the store's.
v1::EpisodeView::Status status_of(storage::v1::EpisodeState::Phase phase);
v1::EpisodeView::Deadline::State state_of(storage::v1::DeadlineRecord::Status status);
v1::EpisodeView::Notice::Kind kind_of(storage::v1::NoticeRecord::Kind kind);

}  // namespace samordna::state
