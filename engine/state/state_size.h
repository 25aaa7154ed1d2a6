#pragma once

// An upper bound on an episode state's serialized size, read from the counts of its repeated
// fields instead of walking every notice, deadline and recipient. The engine refuses an event that
// would make a state larger than one changelog record holds (pipeline::kMaxStateBytes); the exact
// size, ByteSizeLong, was 12 to 15 % of a bulk replay's CPU (issue 14). A bound at or under the
// limit gives the same answer as the exact size, so the refusal stays the same on every path.
//
// It holds for a state that apply_event and fire_timer built from validated events under the rule
// book `longest` was taken from: then no string in it is longer than longest_state_string(), and it
// has no unknown fields. A state parsed from a record may hold anything (a newer version's fields,
// strings an older version allowed): the caller measures those exactly.

#include <cstddef>

#include "samordna/v1/storage.pb.h"

namespace samordna::state {

class SizeBound {
 public:
  // Works out the largest size of each message type in EpisodeState from its descriptor, every
  // string `longest` bytes and every number at its longest encoding. Stops if EpisodeState holds a
  // repeated field the bound does not count (a schema change must extend operator()).
  explicit SizeBound(size_t longest);

  // At least state.ByteSizeLong(), for a state as above.
  size_t operator()(const storage::v1::EpisodeState& state) const;

 private:
  size_t fixed_ = 0;  // every singular field, nested ones included, at its largest
  // One element of each repeated field at its largest (its tag, length and content).
  size_t need_ = 0, notified_ = 0, ready_notified_ = 0, period_ = 0, interval_ = 0, deadline_ = 0,
         deadline_recipient_ = 0, timer_ = 0, seen_ = 0, notice_ = 0, acknowledgement_ = 0,
         seen_key_ = 0, seen_digest_ = 0, liability_period_ = 0;
};

}  // namespace samordna::state
