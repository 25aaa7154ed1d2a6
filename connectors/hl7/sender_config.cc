#include "connectors/hl7/sender_config.h"

#include <yaml-cpp/yaml.h>

#include "connectors/hl7/listener_config.h"

namespace samordna::hl7 {
namespace {

std::string where(const std::string& path, const YAML::Node& n) {
  return path + ":" + std::to_string(n.Mark().line + 1);
}

std::vector<std::string> strings(const YAML::Node& n) {
  std::vector<std::string> out;
  for (const auto& v : n) out.push_back(v.as<std::string>());
  return out;
}

// Applies one sender key to `c`; false when `key` is not a sender key.
Result<bool> sender_key(const std::string& path, const std::string& key, const YAML::Node& v,
                        SenderConfig& c) {
  try {
    if (key == "episode_prefix") {
      c.episode_prefix = v.as<std::string>();
    } else if (key == "inpatient_classes") {
      c.inpatient_classes = strings(v);
    } else if (key == "personnummer_oid") {
      c.personnummer_oid = v.as<std::string>();
    } else if (key == "samordningsnummer_oid") {
      c.samordningsnummer_oid = v.as<std::string>();
    } else if (key == "reserve_number_systems") {
      c.reserve_number_systems = strings(v);
    } else if (key == "municipality_component") {
      c.municipality_component = v.as<std::size_t>();
    } else if (key == "region") {
      c.region = v.as<std::string>();
    } else if (key == "psychiatric_services") {
      c.psychiatric_services = strings(v);
    } else if (key == "processing_ids") {
      c.processing_ids = strings(v);
    } else if (key == "time_zone") {
      c.time_zone = v.as<std::string>();
    } else if (key == "default_charset") {
      auto cs = charset_from_msh18(v.as<std::string>(), Charset::kAscii);
      if (!cs)
        return fail(Errc::kInvalidArgument,
                    where(path, v) + ": default_charset: " + cs.error().message);
      c.parse.default_charset = cs.value();
    } else if (key == "max_message_bytes") {
      c.parse.max_message_bytes = v.as<std::size_t>();
    } else {
      return false;
    }
  } catch (const YAML::Exception&) {
    return fail(Errc::kInvalidArgument, where(path, v) + ": " + key + " has the wrong type");
  }
  return true;
}

Result<YAML::Node> load_yaml(const std::string& path) {
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return fail(Errc::kInvalidArgument, path + ": " + e.what());
  }
}

}  // namespace

Result<SenderConfig> load_sender_config(const std::string& path) {
  SenderConfig c;
  SAMORDNA_TRY(root, load_yaml(path));
  if (root.IsNull()) return c;
  if (!root.IsMap()) return fail(Errc::kInvalidArgument, path + ": expected a mapping");
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    SAMORDNA_TRY(known, sender_key(path, key, kv.second, c));
    if (!known) return fail(Errc::kInvalidArgument, where(path, kv.first) + ": unknown key " + key);
  }
  return c;
}

namespace {

Result<void> listener_keys(const std::string& path, const YAML::Node& node, ListenerConfig& c) {
  if (!node.IsMap())
    return fail(Errc::kInvalidArgument, where(path, node) + ": listener: expected a mapping");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    try {
      if (key == "bind") {
        c.server.bind_address = v.as<std::string>();
      } else if (key == "port") {
        c.server.port = v.as<uint16_t>();
      } else if (key == "max_frame_bytes") {
        c.server.max_frame_bytes = v.as<std::size_t>();
      } else if (key == "max_connections") {
        c.server.max_connections = v.as<std::size_t>();
      } else if (key == "idle_timeout_s") {
        c.server.idle_timeout = std::chrono::seconds(v.as<int64_t>());
      } else if (key == "tls_cert") {
        c.server.tls_cert = v.as<std::string>();
      } else if (key == "tls_key") {
        c.server.tls_key = v.as<std::string>();
      } else if (key == "threads") {
        c.server.threads = v.as<int>();
      } else if (key == "stop_bound_ms") {
        c.server.stop_bound = std::chrono::milliseconds(v.as<int64_t>());
      } else if (key == "durable_bound_ms") {
        c.ack.durable_bound = std::chrono::milliseconds(v.as<int64_t>());
      } else if (key == "remember_estimates") {
        c.ack.remember_estimates = v.as<bool>();
      } else if (key == "remember_patient_data") {
        c.ack.remember_patient_data = v.as<bool>();
      } else if (key == "instance") {
        c.instance = v.as<std::string>();
      } else if (key == "memory_topic") {
        c.memory_topic = v.as<std::string>();
      } else if (key == "memory_retention_hours") {
        c.memory_retention = std::chrono::hours(v.as<int64_t>());
      } else if (key == "max_batch") {
        c.max_batch = v.as<std::size_t>();
      } else if (key == "linger_ms") {
        c.linger = std::chrono::milliseconds(v.as<int64_t>());
      } else {
        return fail(Errc::kInvalidArgument,
                    where(path, kv.first) + ": unknown key listener." + key);
      }
    } catch (const YAML::Exception&) {
      return fail(Errc::kInvalidArgument,
                  where(path, v) + ": listener." + key + " has the wrong type");
    }
  }
  return ok();
}

}  // namespace

Result<ListenerConfig> load_listener_config(const std::string& path) {
  ListenerConfig c;
  SAMORDNA_TRY(root, load_yaml(path));
  if (root.IsNull()) return c;
  if (!root.IsMap()) return fail(Errc::kInvalidArgument, path + ": expected a mapping");
  // The defaults first: a sender override starts from them, wherever they stand in the file.
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (key == "senders" || key == "listener") continue;
    SAMORDNA_TRY(known, sender_key(path, key, kv.second, c.senders.defaults));
    if (!known) return fail(Errc::kInvalidArgument, where(path, kv.first) + ": unknown key " + key);
  }
  if (auto l = root["listener"]) {
    SAMORDNA_TRYV(listener_keys(path, l, c));
  }
  if (auto senders = root["senders"]) {
    if (!senders.IsSequence()) {
      return fail(Errc::kInvalidArgument, where(path, senders) + ": senders: expected a list");
    }
    for (const auto& s : senders) {
      if (!s.IsMap())
        return fail(Errc::kInvalidArgument, where(path, s) + ": a sender is a mapping");
      SenderConfig sc = c.senders.defaults;
      std::string application, facility;
      for (const auto& kv : s) {
        const std::string key = kv.first.as<std::string>();
        try {
          if (key == "application") {
            application = kv.second.as<std::string>();
            continue;
          }
          if (key == "facility") {
            facility = kv.second.as<std::string>();
            continue;
          }
        } catch (const YAML::Exception&) {
          return fail(Errc::kInvalidArgument,
                      where(path, kv.second) + ": " + key + " has the wrong type");
        }
        SAMORDNA_TRY(known, sender_key(path, key, kv.second, sc));
        if (!known) {
          return fail(Errc::kInvalidArgument, where(path, kv.first) + ": unknown key " + key);
        }
      }
      if (application.empty() && facility.empty()) {
        return fail(
            Errc::kInvalidArgument,
            where(path, s) + ": a sender needs application (MSH-3.1) or facility (MSH-4.1)");
      }
      c.senders.senders[{application, facility}] = std::move(sc);
    }
  }
  return c;
}

}  // namespace samordna::hl7
