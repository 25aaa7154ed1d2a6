#include "connectors/fhir/snapshot.h"

namespace samordna::fhir {

std::vector<v1::Event> new_events(const std::vector<v1::Event>& candidates,
                                  const std::set<std::string>& known) {
  std::vector<v1::Event> out;
  for (const auto& e : candidates) {
    if (!known.contains(e.event_id())) out.push_back(e);
  }
  return out;
}

std::set<std::string> InProcessMemory::known(const std::string& episode_id) const {
  std::lock_guard lock(mu_);
  auto it = ids_.find(episode_id);
  return it == ids_.end() ? std::set<std::string>{} : it->second;
}

void InProcessMemory::commit(const std::vector<v1::Event>& events) {
  std::lock_guard lock(mu_);
  for (const auto& e : events) ids_[e.episode_id()].insert(e.event_id());
}

}  // namespace samordna::fhir
