#pragma once

// The episode state machine: the whole of Lag (2017:612) as the engine applies it, as pure
// functions. Given an episode's state, one input (an event or a fired timer), the rule book and the
// current time, it returns the next state and the notifications to emit. No I/O, no clock reads, no
// logging: the same arguments always give the same result, ids included, which is what makes the
// simulator and the live service produce identical output. docs/domain-decisions.md lists every
// interpretation it pins.
//
// The timers an episode wants are part of its state (EpisodeState.timers); the pipeline mirrors
// them into the timer store in the same atomic write.

#include <boost/outcome.hpp>

#include <optional>
#include <string>
#include <vector>

#include "engine/core/time.h"
#include "rules/liability.h"
#include "rules/rule_set.h"
#include "samordna/v1/event.pb.h"
#include "samordna/v1/notification.pb.h"
#include "samordna/v1/storage.pb.h"

namespace samordna::state {

// Why an input was refused. The reason names fields and states, never personal data.
struct Rejection {
  enum class Code {
    kMalformed,          // a required field is missing or has an impossible value
    kInvalidPersonalId,  // the identity number fails the Skatteverket rules
    kUnknownEpisode,     // no admission seen for the episode
    kOutOfOrder,         // the process does not allow this event in the episode's state
    kEpisodeClosed,      // the episode was settled or cancelled
    kConflict,           // an event id seen before, with different content
    kNoRules,            // no rule set in force for the region and date
    kUnknownNotice,      // an acknowledgement of a notification that is no notice of the episode
    kNotAddressee,       // an acknowledgement by an organisation the notice was not addressed to
    kEpisodeLimit,       // the episode has applied kMaxEventsPerEpisode events already
  };
  Code code = Code::kMalformed;
  std::string reason;
};

const char* code_name(Rejection::Code code);

// The most events one episode applies (duplicates and rejected events not counted). Real episodes
// have tens; the cap keeps an episode's state, and so the cost of each event and the size of its
// changelog record, bounded (docs/domain-decisions.md, "Events and rejections"). The event that
// reaches it sends the ward a warning EPISODE_EVENT_LIMIT; later ones are rejected episode_limit.
inline constexpr int kMaxEventsPerEpisode = 1000;  // "malformed", "unknown_episode", ...

// The longest string a state built by apply_event and fire_timer from validated events can hold
// under `book`: an event's string at its limit (validate_event), a notification id made of the
// episode id and the event's ids, or the rule set's id or digest. state_size.h bounds a state's
// size with it.
size_t longest_state_string(const rules::RuleBook& book);

struct Transition {
  enum class Outcome {
    kApplied,    // next holds the new state (may equal the old), notifications what to emit
    kDuplicate,  // the event id was applied before: nothing changes
    kStale,      // a timer the episode no longer wants: nothing changes, drop the timer
  };
  Outcome outcome = Outcome::kApplied;
  storage::v1::EpisodeState next;
  std::vector<v1::Notification> notifications;
};

using StepResult =
    boost::outcome_v2::result<Transition, Rejection, boost::outcome_v2::policy::terminate>;

// Checks what can be checked without the episode's state: required fields, identity numbers,
// codes. apply_event runs it too; connectors may call it early to reject before routing.
std::optional<Rejection> validate_event(const v1::Event& event);

// Applies one event. `state` is null when the store has no record of the episode.
StepResult apply_event(const storage::v1::EpisodeState* state, const v1::Event& event,
                       const rules::RuleBook& rules, Instant now);
// The same for a caller that read the state for this step only: the next state is built in its
// storage instead of a copy of it (a copy of every notice and deadline, as costly as the step).
// `state` is left unspecified when the event applies, and as it was when the event is refused or a
// duplicate (every refusal comes before the step takes it: the engine's write-behind relies on it).
StepResult apply_event(storage::v1::EpisodeState&& state, const v1::Event& event,
                       const rules::RuleBook& rules, Instant now);

struct TimerFired {
  storage::v1::TimerKind kind = storage::v1::TIMER_KIND_UNSPECIFIED;
  v1::DeadlineKind deadline = v1::DEADLINE_KIND_UNSPECIFIED;
  Instant fire_at;
};

// Applies a timer the timer store found due at `now` (>= fire_at). What it emits is issued at
// fire_at, not at `now`, so the output does not depend on when the timer pass ran.
Transition fire_timer(const storage::v1::EpisodeState& state, const TimerFired& timer,
                      const rules::RuleBook& rules, Instant now);
// The same, building the next state in `state`'s storage; `state` is left unspecified.
Transition fire_timer(storage::v1::EpisodeState&& state, const TimerFired& timer,
                      const rules::RuleBook& rules, Instant now);

// The facts of one episode payment liability is settled on (5 kap. 3-5 §§), for the policy in
// rules/liability.h; `explain` reads the same.
rules::LiabilityFacts liability_facts(const storage::v1::EpisodeState& state);

// The rule set an episode is judged by: the one it was admitted under, or, when the rule files no
// longer hold that id, the one in force at admission now.
const rules::RuleSet* rules_for(const storage::v1::EpisodeState& state,
                                const rules::RuleBook& rules);

}  // namespace samordna::state
