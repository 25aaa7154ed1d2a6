#include "connectors/serve/client_certs.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace samordna::serve {
namespace {

std::string where(const std::string& file, const YAML::Node& n) {
  return file + ":" + std::to_string(n.Mark().line + 1) + ": ";
}

}  // namespace

std::string ClientCertificateMap::normalise(std::string_view subject) {
  std::string out;
  out.reserve(subject.size());
  for (size_t i = 0; i < subject.size(); ++i) {
    const char c = subject[i];
    if (c == ' ' || c == '\t') {
      // Drop blanks next to a separator (an escaped "\," is kept as written).
      const char prev = out.empty() ? ',' : out.back();
      size_t j = i;
      while (j < subject.size() && (subject[j] == ' ' || subject[j] == '\t')) ++j;
      const char next = j < subject.size() ? subject[j] : ',';
      const bool escaped = out.size() >= 2 && out[out.size() - 2] == '\\';
      if (((prev == ',' || prev == '=') && !escaped) || next == ',' || next == '=') {
        i = j - 1;
        continue;
      }
    }
    out.push_back(c);
  }
  return out;
}

Result<ClientCertificateMap> ClientCertificateMap::from_yaml(const std::string& text,
                                                             const std::string& file) {
  ClientCertificateMap map;
  try {
    const YAML::Node root = YAML::Load(text);
    if (!root.IsMap() || !root["clientCertificates"] || !root["clientCertificates"].IsSequence()) {
      return fail(Errc::kInvalidArgument, file + ": expected a list under clientCertificates");
    }
    for (const auto& entry : root["clientCertificates"]) {
      if (!entry.IsMap()) {
        return fail(Errc::kInvalidArgument, where(file, entry) + "an entry is a mapping");
      }
      for (const auto& kv : entry) {
        const auto key = kv.first.as<std::string>();
        if (key != "subject" && key != "org" && key != "role" && key != "name") {
          return fail(Errc::kInvalidArgument, where(file, kv.first) + "unknown key '" + key +
                                                  "' (subject, org, role, name)");
        }
      }
      for (const char* key : {"subject", "org", "role", "name"}) {
        if (!entry[key] || !entry[key].IsScalar() || entry[key].as<std::string>().empty()) {
          return fail(Errc::kInvalidArgument,
                      where(file, entry) + "an entry needs " + std::string(key));
        }
      }
      Principal p;
      auto org = parse_org(entry["org"].as<std::string>());
      if (!org)
        return fail(Errc::kInvalidArgument, where(file, entry["org"]) + org.error().message);
      p.org = std::move(org).value();
      auto role = parse_role(entry["role"].as<std::string>());
      if (!role) {
        return fail(Errc::kInvalidArgument,
                    where(file, entry["role"]) +
                        "role must be caseworker, coordinator, auditor or operator");
      }
      p.role = *role;
      p.subject = entry["name"].as<std::string>();
      const auto subject = normalise(entry["subject"].as<std::string>());
      if (!map.by_subject_.emplace(subject, std::move(p)).second) {
        return fail(Errc::kInvalidArgument,
                    where(file, entry["subject"]) + "this subject is mapped twice");
      }
    }
  } catch (const YAML::Exception& e) {
    return fail(Errc::kInvalidArgument,
                file + ":" + std::to_string(e.mark.line + 1) + ": not YAML: " + e.msg);
  }
  return map;
}

Result<ClientCertificateMap> ClientCertificateMap::from_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(Errc::kInvalidArgument, "cannot read " + file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return from_yaml(ss.str(), file.string());
}

std::optional<Principal> ClientCertificateMap::principal(std::string_view subject) const {
  const auto it = by_subject_.find(normalise(subject));
  if (it == by_subject_.end()) return std::nullopt;
  return it->second;
}

}  // namespace samordna::serve
