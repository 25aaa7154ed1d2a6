#include "connectors/hl7/sender_config.h"

#include <yaml-cpp/yaml.h>

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
      if (key == "episode_prefix") {
        c.episode_prefix = v.as<std::string>();
      } else if (key == "inpatient_classes") {
        c.inpatient_classes = strings(v);
      } else if (key == "personnummer_oid") {
        c.personnummer_oid = v.as<std::string>();
      } else if (key == "samordningsnummer_oid") {
        c.samordningsnummer_oid = v.as<std::string>();
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
        return fail(Errc::kInvalidArgument, where(path, kv.first) + ": unknown key " + key);
      }
    } catch (const YAML::Exception&) {
      return fail(Errc::kInvalidArgument, where(path, v) + ": " + key + " has the wrong type");
    }
  }
  return c;
}

}  // namespace samordna::hl7
