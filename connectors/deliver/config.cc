#include "connectors/deliver/config.h"

#include <google/protobuf/descriptor.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace samordna::deliver {
namespace {

// A problem found while reading: its line and what is wrong (never a value: it may be a secret).
struct Problem {
  int line;
  std::string reason;
};

int line_of(const YAML::Node& n) { return n.Mark().line >= 0 ? n.Mark().line + 1 : 1; }

std::string scalar(const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) throw Problem{line_of(n), "'" + key + "' must be a string"};
  return n.Scalar();
}

int integer(const YAML::Node& n, const std::string& key, int lo, int hi) {
  if (!n.IsScalar()) throw Problem{line_of(n), "'" + key + "' must be a number"};
  long long v = 0;
  try {
    size_t used = 0;
    v = std::stoll(n.Scalar(), &used);
    if (used != n.Scalar().size()) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    throw Problem{line_of(n), "'" + key + "' must be a whole number"};
  }
  if (v < lo || v > hi) {
    throw Problem{line_of(n), "'" + key + "' must be between " + std::to_string(lo) + " and " +
                                  std::to_string(hi)};
  }
  return static_cast<int>(v);
}

bool boolean(const YAML::Node& n, const std::string& key) {
  const std::string s = scalar(n, key);
  if (s == "true") return true;
  if (s == "false") return false;
  throw Problem{line_of(n), "'" + key + "' must be true or false"};
}

std::vector<std::string> strings(const YAML::Node& n, const std::string& key) {
  if (!n.IsSequence()) throw Problem{line_of(n), "'" + key + "' must be a list"};
  std::vector<std::string> out;
  for (const auto& v : n) out.push_back(scalar(v, key));
  return out;
}

void require_map(const YAML::Node& n, const std::string& what) {
  if (!n.IsMap()) throw Problem{line_of(n), what + " must be a mapping"};
}

std::string read_file(const std::filesystem::path& p, int line, const std::string& key) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Problem{line, "'" + key + "': cannot read " + p.string()};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::set<std::string> kind_names() {
  std::set<std::string> out;
  const auto* oneof = v1::Notification::descriptor()->FindOneofByName("kind");
  for (int i = 0; i < oneof->field_count(); ++i) out.insert(oneof->field(i)->json_name());
  return out;
}

// A key for an error text: quoted only when it is a plain name. A broken line can fold the line
// below it (a sasl.password in kafka.properties) into a key, and error texts never carry secrets.
std::string named(const std::string& key) {
  if (key.empty() || key.size() > 64) return "a key that is not a plain name";
  for (char ch : key) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-'))
      return "a key that is not a plain name";
  }
  return "key '" + key + "'";
}

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

EndpointConfig read_endpoint(const YAML::Node& n, const std::filesystem::path& base) {
  require_map(n, "an endpoint");
  EndpointConfig e;
  int organisation_line = 0, host_line = 0, secrets_line = 0;
  const auto path_of = [&](const YAML::Node& v, const std::string& key) {
    std::filesystem::path p = scalar(v, key);
    if (p.empty()) throw Problem{line_of(v), "'" + key + "' must not be empty"};
    return p.is_absolute() ? p : base / p;
  };
  for (const auto& kv : n) {
    const std::string key = scalar(kv.first, "key");
    const YAML::Node& v = kv.second;
    if (key == "name") {
      e.name = scalar(v, key);
      if (!valid_name(e.name))
        throw Problem{line_of(v), "'name' must be 1 to 64 of A-Z a-z 0-9 . _ -"};
    } else if (key == "organisation") {
      organisation_line = line_of(v);
      if (!parse_organisation(scalar(v, key), e.organisation)) {
        throw Problem{line_of(v),
                      "'organisation' must be kind:id, kind one of municipality, outpatient_unit, "
                      "ward, region"};
      }
    } else if (key == "host") {
      host_line = line_of(v);
      e.endpoint.host = scalar(v, key);
    } else if (key == "port") {
      e.endpoint.port = static_cast<uint16_t>(integer(v, key, 1, 65535));
    } else if (key == "path") {
      e.endpoint.target = scalar(v, key);
      if (e.endpoint.target.empty() || e.endpoint.target[0] != '/' ||
          e.endpoint.target.find_first_of(" \r\n\t") != std::string::npos)
        throw Problem{line_of(v), "'path' must start with / and hold no white space"};
    } else if (key == "tls") {
      e.endpoint.tls = boolean(v, key);
    } else if (key == "secretFiles") {
      secrets_line = line_of(v);
      const auto files = strings(v, key);
      if (files.empty() || files.size() > 2)
        throw Problem{line_of(v), "'secretFiles' must list 1 or 2 files (2 during a rotation)"};
      for (const auto& f : files) {
        std::filesystem::path p = f;
        if (!p.is_absolute()) p = base / p;
        auto secret = parse_secret(read_file(p, line_of(v), key));
        if (!secret)
          throw Problem{line_of(v), "secret file " + p.string() +
                                        ": not a secret (whsec_ + base64 of 24 to 64 bytes)"};
        e.secrets.push_back(std::move(secret).value());
      }
    } else if (key == "format") {
      const std::string f = scalar(v, key);
      if (f == "json") {
        e.format = Format::kJson;
      } else if (f == "fhir") {
        e.format = Format::kFhir;
      } else {
        throw Problem{line_of(v), "'format' must be json or fhir"};
      }
    } else if (key == "kinds") {
      static const std::set<std::string> known = kind_names();
      e.kinds = strings(v, key);
      for (const auto& k : e.kinds) {
        if (known.count(k) == 0)
          throw Problem{line_of(v), "'kinds': unknown notification kind (" + named(k) + ")"};
      }
    } else if (key == "caFile") {
      e.client.ca_file = path_of(v, key).string();
    } else if (key == "clientCertFile") {
      e.client.client_cert_file = path_of(v, key).string();
    } else if (key == "clientKeyFile") {
      e.client.client_key_file = path_of(v, key).string();
    } else if (key == "timeoutMs") {
      const int ms = integer(v, key, 100, 600'000);
      e.client.connect_timeout = std::chrono::milliseconds{ms};
      e.client.request_timeout = std::chrono::milliseconds{ms};
    } else if (key == "concurrency") {
      e.concurrency = integer(v, key, 1, 64);
    } else {
      throw Problem{line_of(kv.first), "unknown " + named(key) + " in an endpoint"};
    }
  }
  const int at = line_of(n);
  if (e.name.empty()) throw Problem{at, "an endpoint needs a 'name'"};
  if (organisation_line == 0) throw Problem{at, "endpoint " + e.name + " needs an 'organisation'"};
  if (host_line == 0 || e.endpoint.host.empty())
    throw Problem{at, "endpoint " + e.name + " needs a 'host'"};
  if (secrets_line == 0) throw Problem{at, "endpoint " + e.name + " needs 'secretFiles'"};
  if (e.client.client_cert_file.empty() != e.client.client_key_file.empty())
    throw Problem{at, "endpoint " + e.name + ": clientCertFile and clientKeyFile go together"};
  if (!e.endpoint.tls && e.endpoint.host != "127.0.0.1" && e.endpoint.host != "localhost" &&
      e.endpoint.host != "::1")
    throw Problem{at, "endpoint " + e.name + ": tls: false is allowed on the loopback only"};
  return e;
}

void read_root(const YAML::Node& root, const std::filesystem::path& base, DeliverConfig& c) {
  require_map(root, "the file");
  std::set<std::string> names;
  for (const auto& kv : root) {
    const std::string key = scalar(kv.first, "key");
    const YAML::Node& v = kv.second;
    if (key == "kafka") {
      require_map(v, "'kafka'");
      for (const auto& k : v) {
        const std::string sub = scalar(k.first, "key");
        if (sub == "bootstrap") {
          c.bootstrap = scalar(k.second, sub);
        } else if (sub == "properties") {
          require_map(k.second, "'kafka.properties'");
          for (const auto& p : k.second)
            c.properties[scalar(p.first, "key")] = scalar(p.second, "a property");
        } else {
          throw Problem{line_of(k.first), "unknown " + named(sub) + " in kafka"};
        }
      }
    } else if (key == "topics") {
      require_map(v, "'topics'");
      for (const auto& t : v) {
        const std::string sub = scalar(t.first, "key");
        const std::string name = scalar(t.second, sub);
        if (name.empty()) throw Problem{line_of(t.second), "a topic name must not be empty"};
        if (sub == "notifications") {
          c.notifications_topic = name;
        } else if (sub == "status") {
          c.status_topic = name;
        } else if (sub == "deadletter") {
          c.deadletter_topic = name;
        } else if (sub == "replay") {
          c.replay_topic = name;
        } else {
          throw Problem{line_of(t.first), "unknown topic " + named(sub) +
                                              " (notifications, status, deadletter, replay)"};
        }
      }
    } else if (key == "retry") {
      require_map(v, "'retry'");
      for (const auto& r : v) {
        const std::string sub = scalar(r.first, "key");
        if (sub == "firstDelaySeconds") {
          c.retry.first_delay = std::chrono::seconds{integer(r.second, sub, 0, 86400)};
        } else if (sub == "factor") {
          c.retry.factor = integer(r.second, sub, 1, 10);
        } else if (sub == "maxDelaySeconds") {
          c.retry.max_delay = std::chrono::seconds{integer(r.second, sub, 1, 7 * 86400)};
        } else if (sub == "giveUpAfterSeconds") {
          c.retry.give_up_after = std::chrono::seconds{integer(r.second, sub, 1, 30 * 86400)};
        } else {
          throw Problem{line_of(r.first), "unknown " + named(sub) +
                                              " in retry (firstDelaySeconds, "
                                              "factor, maxDelaySeconds, giveUpAfterSeconds)"};
        }
      }
    } else if (key == "endpoints") {
      if (!v.IsSequence()) throw Problem{line_of(v), "'endpoints' must be a list"};
      for (const auto& e : v) {
        auto endpoint = read_endpoint(e, base);
        if (!names.insert(endpoint.name).second)
          throw Problem{line_of(e), "endpoint name '" + endpoint.name + "' used twice"};
        c.endpoints.push_back(std::move(endpoint));
      }
    } else {
      throw Problem{line_of(kv.first),
                    "unknown " + named(key) + " (kafka, topics, retry, endpoints)"};
    }
  }
  if (c.endpoints.empty()) throw Problem{line_of(root), "no endpoints configured"};
}

}  // namespace

Result<DeliverConfig> parse_deliver_config(const std::string& text,
                                           const std::filesystem::path& file) {
  DeliverConfig c;
  try {
    const YAML::Node root = YAML::Load(text);
    read_root(root, file.parent_path(), c);
  } catch (const Problem& p) {
    return fail(Errc::kInvalidArgument,
                file.string() + ":" + std::to_string(p.line) + ": " + p.reason);
  } catch (const YAML::Exception& e) {
    return fail(Errc::kInvalidArgument, file.string() + ":" + std::to_string(e.mark.line + 1) +
                                            ": not valid YAML (" + e.msg + ")");
  }
  return c;
}

Result<DeliverConfig> load_deliver_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(Errc::kInvalidArgument, "cannot read config file " + file.string());
  std::stringstream s;
  s << in.rdbuf();
  return parse_deliver_config(s.str(), file);
}

namespace {
constexpr std::pair<const char*, v1::Organisation::Kind> kKinds[] = {
    {"municipality", v1::Organisation::MUNICIPALITY},
    {"outpatient_unit", v1::Organisation::OUTPATIENT_UNIT},
    {"ward", v1::Organisation::WARD},
    {"region", v1::Organisation::REGION},
};
}  // namespace

bool parse_organisation(const std::string& text, v1::Organisation& out) {
  const auto colon = text.find(':');
  if (colon == std::string::npos || colon + 1 >= text.size()) return false;
  const std::string kind = text.substr(0, colon);
  for (const auto& [name, k] : kKinds) {
    if (kind == name) {
      out.set_kind(k);
      out.set_id(text.substr(colon + 1));
      return true;
    }
  }
  return false;
}

std::string organisation_text(const v1::Organisation& o) {
  for (const auto& [name, k] : kKinds) {
    if (o.kind() == k) return std::string(name) + ":" + o.id();
  }
  return "unspecified:" + o.id();
}

std::string notification_kind(const v1::Notification& n) {
  if (n.kind_case() == v1::Notification::KIND_NOT_SET) return "";
  const auto* field = v1::Notification::descriptor()->FindFieldByNumber(n.kind_case());
  return field == nullptr ? "" : field->json_name();
}

}  // namespace samordna::deliver
