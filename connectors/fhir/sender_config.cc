#include "connectors/fhir/sender_config.h"

#include <date/tz.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

namespace samordna::fhir {
namespace {

std::string where(const std::string& path, const YAML::Node& n) {
  return path + ":" + std::to_string(n.Mark().line + 1);
}

std::vector<std::string> strings(const YAML::Node& n) {
  if (!n.IsSequence()) throw YAML::BadConversion(n.Mark());
  std::vector<std::string> out;
  for (const auto& v : n) out.push_back(v.as<std::string>());
  return out;
}

}  // namespace

// The sender keys of one mapping node into `c`; `skip` names keys the caller reads itself.
Result<void> apply_keys(const std::string& path, const YAML::Node& node, SenderConfig& c,
                        std::initializer_list<std::string_view> skip) {
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (std::find(skip.begin(), skip.end(), key) != skip.end()) continue;
    try {
      if (key == "sender") {
        c.sender = v.as<std::string>();
      } else if (key == "episode_prefix") {
        c.episode_prefix = v.as<std::string>();
      } else if (key == "episode_identifier_system") {
        c.episode_identifier_system = v.as<std::string>();
      } else if (key == "inpatient_classes") {
        c.inpatient_classes = strings(v);
      } else if (key == "personnummer_systems") {
        c.personnummer_systems = strings(v);
      } else if (key == "samordningsnummer_systems") {
        c.samordningsnummer_systems = strings(v);
      } else if (key == "region") {
        c.region = v.as<std::string>();
        if (c.region.size() != 2 || c.region.find_first_not_of("0123456789") != std::string::npos) {
          return fail(Errc::kInvalidArgument,
                      where(path, v) + ": region must be a 2-digit county code");
        }
      } else if (key == "psychiatric_service_types") {
        c.psychiatric_service_types = strings(v);
      } else if (key == "time_zone") {
        c.time_zone = v.as<std::string>();
        try {
          (void)date::locate_zone(c.time_zone);
        } catch (const std::exception&) {
          return fail(Errc::kInvalidArgument, where(path, v) + ": unknown time_zone");
        }
      } else if (key == "max_resource_bytes") {
        c.max_resource_bytes = v.as<std::size_t>();
      } else {
        return fail(Errc::kInvalidArgument, where(path, kv.first) + ": unknown key " + key);
      }
    } catch (const YAML::Exception&) {
      return fail(Errc::kInvalidArgument, where(path, v) + ": " + key + " has the wrong type");
    }
  }
  if (c.sender.empty()) return fail(Errc::kInvalidArgument, path + ": sender must not be empty");
  return ok();
}

Result<YAML::Node> load_root(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return fail(Errc::kInvalidArgument, path + ": " + e.what());
  }
  if (!root.IsNull() && !root.IsMap()) {
    return fail(Errc::kInvalidArgument, path + ": expected a mapping");
  }
  return root;
}

Result<SenderConfig> load_sender_config(const std::string& path) {
  SAMORDNA_TRY(root, load_root(path));
  SenderConfig c;
  if (root.IsNull()) return c;
  SAMORDNA_TRYV(apply_keys(path, root, c, {}));
  return c;
}

Result<SenderTable> load_sender_table(const std::string& path) {
  SAMORDNA_TRY(root, load_root(path));
  SenderTable table;
  if (root.IsNull()) return table;
  SAMORDNA_TRYV(apply_keys(path, root, table.defaults, {"senders"}));
  const YAML::Node senders = root["senders"];
  if (!senders) return table;
  if (!senders.IsSequence()) {
    return fail(Errc::kInvalidArgument, where(path, senders) + ": senders must be a list");
  }
  std::set<std::string> names{table.defaults.sender};
  for (const auto& entry : senders) {
    if (!entry.IsMap()) {
      return fail(Errc::kInvalidArgument, where(path, entry) + ": a sender must be a mapping");
    }
    SenderOverride o;
    o.config = table.defaults;
    try {
      if (entry["client"]) o.client = entry["client"].as<std::string>();
      if (entry["source"]) o.source = entry["source"].as<std::string>();
    } catch (const YAML::Exception&) {
      return fail(Errc::kInvalidArgument, where(path, entry) + ": client and source are strings");
    }
    if (o.client.empty() && o.source.empty()) {
      return fail(Errc::kInvalidArgument,
                  where(path, entry) +
                      ": a sender needs a client (certificate subject) or a "
                      "source (meta.source)");
    }
    if (!entry["sender"]) {
      return fail(Errc::kInvalidArgument,
                  where(path, entry) + ": a sender needs its own name (sender)");
    }
    SAMORDNA_TRYV(apply_keys(path, entry, o.config, {"client", "source"}));
    // Its name is its Event.source and its memory's key: two senders sharing one would take each
    // other's events for duplicates.
    if (!names.insert(o.config.sender).second) {
      return fail(Errc::kInvalidArgument,
                  where(path, entry) +
                      ": sender names must differ from each other and from the "
                      "default's");
    }
    table.senders.push_back(std::move(o));
  }
  return table;
}

const SenderConfig& SenderTable::select(std::optional<std::string_view> client,
                                        std::optional<std::string_view> source) const {
  // An authenticated client is its own entry, whatever the resource claims.
  if (client) {
    for (const auto& o : senders) {
      if (!o.client.empty() && o.client == *client && (o.source.empty() || o.source == source)) {
        return o.config;
      }
    }
  }
  // meta.source picks an entry that asks for no certificate, or whose certificate was presented.
  if (source) {
    for (const auto& o : senders) {
      if (o.source == *source && (o.client.empty() || o.client == client)) return o.config;
    }
  }
  return defaults;
}

bool SenderTable::uses_source() const {
  return std::any_of(senders.begin(), senders.end(),
                     [](const SenderOverride& o) { return !o.source.empty(); });
}

}  // namespace samordna::fhir
