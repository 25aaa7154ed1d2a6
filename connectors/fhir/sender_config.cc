#include "connectors/fhir/sender_config.h"

#include <date/tz.h>
#include <yaml-cpp/yaml.h>

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

Result<SenderConfig> load_sender_config(const std::string& path) {
  SenderConfig c;
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return fail(Errc::kInvalidArgument, path + ": " + e.what());
  }
  if (root.IsNull()) return c;
  if (!root.IsMap()) return fail(Errc::kInvalidArgument, path + ": expected a mapping");
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
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
  return c;
}

}  // namespace samordna::fhir
