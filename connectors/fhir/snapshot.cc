#include "connectors/fhir/snapshot.h"

#include <memory>

namespace samordna::fhir {

std::string encode_snapshot(const std::set<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    out += id;
    out += '\n';
  }
  return out;
}

std::set<std::string> decode_snapshot(std::string_view stored) {
  std::set<std::string> out;
  while (!stored.empty()) {
    size_t nl = stored.find('\n');
    std::string_view id = stored.substr(0, nl);
    if (!id.empty()) out.emplace(id);
    if (nl == std::string_view::npos) break;
    stored.remove_prefix(nl + 1);
  }
  return out;
}

std::vector<v1::Event> new_events(const std::vector<v1::Event>& candidates,
                                  const std::set<std::string>& known) {
  std::vector<v1::Event> out;
  for (const auto& e : candidates) {
    if (!known.contains(e.event_id())) out.push_back(e);
  }
  return out;
}

Snapshot InProcessStore::known(const std::string& episode_id) const {
  std::lock_guard lock(mu_);
  auto it = stored_.find(episode_id);
  if (it == stored_.end()) return {};
  return {decode_snapshot(it->second), it->second};
}

void InProcessStore::commit(std::vector<v1::Event> events, std::vector<SnapshotUpdate> updates,
                            std::function<void(Status)> done) {
  {
    std::lock_guard lock(mu_);
    for (const auto& u : updates) {
      auto it = stored_.find(u.episode_id);
      std::optional<std::string> now;
      if (it != stored_.end()) now = it->second;
      if (now != u.previous.stored) {
        done(Status::kConflict);
        return;
      }
    }
  }
  auto shared = std::make_shared<std::vector<SnapshotUpdate>>(std::move(updates));
  publish_(std::move(events), [this, shared, done = std::move(done)](bool durable) {
    if (!durable) {
      done(Status::kUnavailable);
      return;
    }
    {
      std::lock_guard lock(mu_);
      for (const auto& u : *shared) stored_[u.episode_id] = encode_snapshot(u.ids);
    }
    done(Status::kDurable);
  });
}

}  // namespace samordna::fhir
