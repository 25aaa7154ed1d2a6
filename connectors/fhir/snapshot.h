#pragma once

// What the listener remembers per encounter: the ids of the events its snapshots already made.
// FHIR sends whole resources; the mapping turns each into every event it implies, with ids that
// depend only on the content, and the diff against this memory leaves what is new. The same
// resource sent twice therefore makes nothing; an in-progress encounter later sent finished makes
// only the discharge.
//
// The new events and the new memory are written together (SnapshotStore::commit): durable both or
// neither, so a crash between them can neither lose an event nor make one twice. In the listener
// the store is the Kafka intake (connectors/kafka/intake.h: events and a compacted memory record
// in one transaction, wired in engine/app/cmd_fhir.cc); InProcessStore is for tests.

#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "samordna/v1/event.pb.h"

namespace samordna::fhir {

// One episode's memory: the event ids made, and the stored text they came from (for a
// compare-and-set: the commit fails if another request changed it meanwhile).
struct Snapshot {
  std::set<std::string> ids;
  std::optional<std::string> stored;  // nullopt: nothing stored yet
};

// The memory record's value: the ids, one a line, sorted. Ids name episodes and steps, never a
// patient.
std::string encode_snapshot(const std::set<std::string>& ids);
std::set<std::string> decode_snapshot(std::string_view stored);

// The events of `candidates` whose ids are not in `known`, in order.
std::vector<v1::Event> new_events(const std::vector<v1::Event>& candidates,
                                  const std::set<std::string>& known);

struct SnapshotUpdate {
  std::string episode_id;
  Snapshot previous;          // as read before the diff
  std::set<std::string> ids;  // the new memory: previous.ids and the new events' ids
};

// Thread-safe.
class SnapshotStore {
 public:
  enum class Status {
    kDurable,      // the events and every update are durable
    kConflict,     // an episode's memory changed since it was read; nothing was written
    kUnavailable,  // not durable within the bound (or refused); the sender should retry
  };
  virtual ~SnapshotStore() = default;
  virtual Snapshot known(const std::string& episode_id) const = 0;
  // Publishes `events` and stores `updates` together; `done` once, on any thread.
  virtual void commit(std::vector<v1::Event> events, std::vector<SnapshotUpdate> updates,
                      std::function<void(Status)> done) = 0;
};

// Memory in the process, events through `publish` (done(true) when durable): forgotten at restart.
// For tests, and the shape of the seam.
class InProcessStore : public SnapshotStore {
 public:
  using Publish = std::function<void(std::vector<v1::Event>, std::function<void(bool)>)>;
  explicit InProcessStore(Publish publish) : publish_(std::move(publish)) {}
  Snapshot known(const std::string& episode_id) const override;
  void commit(std::vector<v1::Event> events, std::vector<SnapshotUpdate> updates,
              std::function<void(Status)> done) override;

 private:
  Publish publish_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> stored_;
};

}  // namespace samordna::fhir
