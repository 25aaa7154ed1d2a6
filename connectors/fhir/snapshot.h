#pragma once

// What the listener remembers per encounter: the ids of the events its snapshots already made.
// FHIR sends whole resources; the mapping turns each into every event it implies (with ids that
// depend only on the content), and the diff against this memory leaves what is new. The same
// resource sent twice therefore makes nothing; an in-progress encounter later sent finished makes
// only the discharge.
//
// The memory is updated only once the new events are durable (commit), so a failed publish leaves
// it as it was and the sender's retry makes them again.

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "samordna/v1/event.pb.h"

namespace samordna::fhir {

// The events of `candidates` whose ids are not in `known`, in order.
std::vector<v1::Event> new_events(const std::vector<v1::Event>& candidates,
                                  const std::set<std::string>& known);

// Thread-safe. An interface, so that the durable memory (the intake's compacted topic,
// connectors/kafka/intake.h) can take the place of the in-process one.
class SnapshotMemory {
 public:
  virtual ~SnapshotMemory() = default;
  // The event ids already made for `episode_id`.
  virtual std::set<std::string> known(const std::string& episode_id) const = 0;
  bool has(const std::string& episode_id, const std::string& event_id) const {
    return known(episode_id).contains(event_id);
  }
  // Records that these events are durable.
  virtual void commit(const std::vector<v1::Event>& events) = 0;
};

// In the process only: forgotten at restart. After a restart a resent snapshot makes its events
// again with the same ids, and the engine drops them as repeats of (source, eventId).
class InProcessMemory : public SnapshotMemory {
 public:
  std::set<std::string> known(const std::string& episode_id) const override;
  void commit(const std::vector<v1::Event>& events) override;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::set<std::string>> ids_;
};

}  // namespace samordna::fhir
