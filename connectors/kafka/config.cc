#include "connectors/kafka/config.h"

#include <spdlog/spdlog.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "engine/core/time.h"
#include "rules/yaml_reader.h"

namespace samordna::kafka {
namespace {

// --- YAML reading --------------------------------------------------------------------------------
//
// Every problem is collected with its line, so one run of `samordna run --config` shows all of
// them; the Result's message is the list, one "file:line: reason" per line.

using yaml::Field;
using yaml::in_quotes;
using yaml::line_of;
using yaml::Reader;

// The keys of one mapping (rules/yaml_reader.h), with the config's hints for unknown keys.
yaml::Fields fields_of(Reader& r, const YAML::Node& map, int map_line, std::string_view where,
                       std::initializer_list<std::string_view> known) {
  return yaml::Fields(r, map, map_line, where, known, yaml::KeyHints::kFolded);
}

// Every problem as "file:line: reason", one per line.
std::string message_of(const std::string& file, const Reader& r) {
  std::string all;
  for (const yaml::Problem& p : r.problems()) {
    all += (all.empty() ? "" : "\n") + file + ":" + std::to_string(p.line) + ": " + p.reason;
  }
  return all;
}

// Kafka's own rule for topic names (kafka.common.internals.Topic).
bool valid_topic_name(std::string_view name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// Properties the config sets through its own keys (or that the service owns): setting them under
// `properties` as well would leave two sources of truth.
std::optional<std::string> owned_property(std::string_view name) {
  if (name == "bootstrap.servers" || name == "metadata.broker.list") return "kafka.bootstrap";
  if (name == "group.id") return "kafka.groupId";
  if (name == "group.instance.id" || name == "transactional.id") return "kafka.instanceId";
  if (name == "transaction.timeout.ms") return "transactionTimeoutMs";
  return std::nullopt;
}

void read_topics(Reader& r, const Field& f, Topics& topics) {
  if (!f.value.IsMap()) {
    r.error(f.line,
            "'topics' must be a mapping (events, notifications, deadletter, changelog, episodes)");
    return;
  }
  const yaml::Fields fields =
      fields_of(r, f.value, f.line, "kafka.topics",
                {"events", "notifications", "deadletter", "changelog", "episodes"});
  const std::pair<const char*, std::string*> slots[] = {{"events", &topics.events},
                                                        {"notifications", &topics.notifications},
                                                        {"deadletter", &topics.deadletter},
                                                        {"changelog", &topics.changelog},
                                                        {"episodes", &topics.episodes}};
  std::map<std::string, std::string> seen;  // name -> role
  for (const auto& [key, slot] : slots) {
    if (const Field* t = fields.get(key)) {
      if (auto name = yaml::read_string(r, *t)) {
        if (!valid_topic_name(*name)) {
          r.error(t->line, "topic name " + in_quotes(*name) +
                               " is not a valid Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -)");
        } else {
          *slot = *name;
        }
      }
    }
    if (auto [it, fresh] = seen.emplace(*slot, key); !fresh) {
      r.error(f.line, "topics " + in_quotes(it->second) + " and " + in_quotes(key) + " are both " +
                          in_quotes(*slot) + "; every topic must be distinct");
    }
  }
}

void read_properties(Reader& r, const Field& f, std::map<std::string, std::string>& out) {
  if (!f.value.IsMap()) {
    r.error(f.line, "'properties' must be a mapping of librdkafka property names to values");
    return;
  }
  for (auto it = f.value.begin(); it != f.value.end(); ++it) {
    const int line = line_of(it->first, f.line);
    if (!it->first.IsScalar()) {
      r.error(line, "a key in kafka.properties is not a plain name");
      continue;
    }
    const std::string& name = it->first.Scalar();
    if (auto owner = owned_property(name)) {
      r.error(line, "set " + in_quotes(name) + " with " + in_quotes(*owner) +
                        ", not in kafka.properties");
      continue;
    }
    // The value is not quoted in errors: properties hold passwords.
    if (!it->second.IsScalar()) {
      r.error(line_of(it->second, line),
              "the value of property " + in_quotes(name) + " must be a single value");
      continue;
    }
    if (!out.emplace(name, it->second.Scalar()).second) {
      r.error(line, "duplicate property " + in_quotes(name) + " in kafka.properties");
    }
  }
}

void read_kafka(Reader& r, const Field& f, KafkaConfig& k) {
  if (!f.value.IsMap()) {
    r.error(f.line, "'kafka' must be a mapping (bootstrap, groupId, topics, properties, ...)");
    return;
  }
  const yaml::Fields fields =
      fields_of(r, f.value, f.line, "kafka",
                {"bootstrap", "groupId", "instanceId", "createTopics", "partitions",
                 "replicationFactor", "topics", "properties"});
  auto non_empty = [&](const char* key, std::string& out) {
    if (const Field* x = fields.get(key)) {
      if (auto v = yaml::read_string(r, *x)) {
        if (v->empty()) {
          r.error(x->line, in_quotes(key) + " must not be empty");
        } else {
          out = *v;
        }
      }
    }
  };
  non_empty("bootstrap", k.bootstrap);
  non_empty("groupId", k.group_id);
  non_empty("instanceId", k.instance_id);
  if (const Field* x = fields.get("createTopics")) {
    if (auto v = yaml::read_bool(r, *x)) k.create_topics = *v;
  }
  if (const Field* x = fields.get("partitions")) {
    if (auto v = yaml::read_int_in_range(r, *x, 1, 10000)) k.partitions = static_cast<int>(*v);
  }
  if (const Field* x = fields.get("replicationFactor")) {
    if (auto v = yaml::read_int_in_range(r, *x, 1, 32767)) {
      k.replication_factor = static_cast<int>(*v);
    }
  }
  if (const Field* x = fields.get("topics")) read_topics(r, *x, k.topics);
  if (const Field* x = fields.get("properties")) read_properties(r, *x, k.properties);
}

void read_root(Reader& r, const YAML::Node& root, const std::filesystem::path& base,
               ServiceConfig& c) {
  const yaml::Fields fields =
      fields_of(r, root, line_of(root, 1), "the file",
                {"kafka", "stateDir", "rulesDir", "clock", "until", "maxBatch", "maxBatchMs",
                 "timerPass", "transactionTimeoutMs", "retentionDays", "metricsPort",
                 "metricsAddress", "writeBehindEpisodes", "writeBehindSeconds"});
  if (const Field* x = fields.get("kafka")) read_kafka(r, *x, c.kafka);
  // Relative paths are taken from the config file's folder, not the working directory, so a
  // service unit and a developer's shell read the same file the same way.
  auto path = [&](const char* key, std::filesystem::path& out) {
    if (const Field* x = fields.get(key)) {
      if (auto v = yaml::read_string(r, *x)) {
        if (v->empty()) {
          r.error(x->line, in_quotes(key) + " must not be empty");
        } else {
          out = (base / *v).lexically_normal();
        }
      }
    }
  };
  path("stateDir", c.state_dir);
  path("rulesDir", c.rules_dir);
  int clock_line = 0;
  if (const Field* x = fields.get("clock")) {
    clock_line = x->line;
    if (auto v = yaml::read_string(r, *x)) {
      if (*v == "wall") {
        c.clock = ClockMode::kWall;
      } else if (*v == "event-time") {
        c.clock = ClockMode::kEventTime;
      } else {
        r.error(x->line, "'clock' must be wall or event-time");
      }
    }
  }
  if (const Field* x = fields.get("until")) {
    if (auto v = yaml::read_string(r, *x)) {
      auto t = parse_rfc3339(*v);
      if (!t) {
        r.error(x->line, "'until' must be an RFC 3339 time, e.g. 2025-12-31T23:00:00Z");
      } else if (c.clock != ClockMode::kEventTime) {
        r.error(x->line,
                "'until' applies to clock: event-time only" +
                    (clock_line ? " (clock is set at line " + std::to_string(clock_line) + ")"
                                : std::string(" (clock defaults to wall)")));
      } else {
        c.until_unix = to_unix(t.value());
      }
    }
  }
  if (const Field* x = fields.get("maxBatch")) {
    if (auto v = yaml::read_int_in_range(r, *x, 1, 1000000)) c.max_batch = static_cast<size_t>(*v);
  }
  if (const Field* x = fields.get("maxBatchMs")) {
    if (auto v = yaml::read_int_in_range(r, *x, 0, 60000)) c.max_batch_ms = static_cast<int>(*v);
  }
  if (const Field* x = fields.get("retentionDays")) {
    // 0 keeps settled episodes forever; at most a century.
    if (auto v = yaml::read_int_in_range(r, *x, 0, 36500)) {
      c.retention = std::chrono::hours{24} * static_cast<int64_t>(*v);
    }
  }
  if (const Field* x = fields.get("metricsPort")) {
    if (auto v = yaml::read_int_in_range(r, *x, 0, 65535)) c.metrics_port = static_cast<int>(*v);
  }
  if (const Field* x = fields.get("metricsAddress")) {
    if (auto v = yaml::read_string(r, *x)) {
      if (v->empty()) {
        r.error(x->line, "'metricsAddress' must not be empty");
      } else {
        c.metrics_address = *v;
      }
    }
  }
  if (const Field* x = fields.get("writeBehindEpisodes")) {
    if (auto v = yaml::read_int_in_range(r, *x, 0, 10000000)) {
      c.write_behind_episodes = static_cast<size_t>(*v);
    }
  }
  if (const Field* x = fields.get("writeBehindSeconds")) {
    if (auto v = yaml::read_int_in_range(r, *x, 1, 3600))
      c.write_behind_seconds = std::chrono::seconds(*v);
  }
  if (const Field* x = fields.get("timerPass")) {
    if (auto v = yaml::read_int_in_range(r, *x, 1, 1000000)) c.timer_pass = static_cast<size_t>(*v);
  }
  if (const Field* x = fields.get("transactionTimeoutMs")) {
    // librdkafka's range starts at 1 s; the broker's transaction.max.timeout.ms defaults to 15 min.
    if (auto v = yaml::read_int_in_range(r, *x, 1000, 900000)) {
      c.transaction_timeout_ms = static_cast<int>(*v);
    }
  }
  // A transaction stays open for up to maxBatchMs plus the commit itself; with no margin below the
  // timeout the broker would abort healthy transactions.
  if (2 * c.max_batch_ms > c.transaction_timeout_ms) {
    const Field* x = fields.get("maxBatchMs");
    if (!x) x = fields.get("transactionTimeoutMs");
    r.error(x ? x->line : 1, "'maxBatchMs' (" + std::to_string(c.max_batch_ms) +
                                 ") must be at most half of 'transactionTimeoutMs' (" +
                                 std::to_string(c.transaction_timeout_ms) + ")");
  }
}

// --- librdkafka logging --------------------------------------------------------------------------

// Routes librdkafka's log lines and errors to spdlog. librdkafka's texts name brokers, topics and
// partitions, never message contents, so they are safe to log. Stateless, so one instance serves
// every client of the process.
class LogEvents final : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_LOG:
        spdlog::log(level_of(event.severity()), "kafka: {} {}", event.fac(), event.str());
        break;
      case RdKafka::Event::EVENT_ERROR:
        spdlog::log(event.fatal() ? spdlog::level::err : spdlog::level::warn, "kafka: {}: {}",
                    RdKafka::err2str(event.err()), event.str());
        break;
      default:
        break;
    }
  }

 private:
  static spdlog::level::level_enum level_of(RdKafka::Event::Severity s) {
    switch (s) {
      case RdKafka::Event::EVENT_SEVERITY_EMERG:
      case RdKafka::Event::EVENT_SEVERITY_ALERT:
      case RdKafka::Event::EVENT_SEVERITY_CRITICAL:
      case RdKafka::Event::EVENT_SEVERITY_ERROR:
        return spdlog::level::err;
      case RdKafka::Event::EVENT_SEVERITY_WARNING:
        return spdlog::level::warn;
      case RdKafka::Event::EVENT_SEVERITY_NOTICE:
        return spdlog::level::info;
      default:
        return spdlog::level::debug;
    }
  }
};

LogEvents log_events;

Result<void> set_property(RdKafka::Conf& conf, const std::string& name, const std::string& value) {
  std::string detail;
  switch (conf.set(name, value, detail)) {
    case RdKafka::Conf::CONF_OK:
      return ok();
    case RdKafka::Conf::CONF_UNKNOWN:
      return fail(Errc::kInvalidArgument, "unknown Kafka property '" + name + "'");
    case RdKafka::Conf::CONF_INVALID:
      break;
  }
  // librdkafka's explanation may quote the value, and values may be secrets: keep it only when it
  // does not.
  std::string message = "invalid value for Kafka property '" + name + "'";
  if (!detail.empty() && (value.empty() || detail.find(value) == std::string::npos)) {
    message += ": " + detail;
  }
  return fail(Errc::kInvalidArgument, message);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

Result<ServiceConfig> load_service_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in.is_open()) return fail(Errc::kIo, "cannot read config file " + file.string());
  std::stringstream content;
  content << in.rdbuf();
  if (in.bad()) return fail(Errc::kIo, "cannot read config file " + file.string());

  return parse_service_config(content.str(), file);
}

Result<ServiceConfig> parse_service_config(const std::string& text,
                                           const std::filesystem::path& file) {
  Reader r;
  ServiceConfig config;
  try {
    const auto docs = yaml::load_documents(r, text);
    if (!docs) return fail(Errc::kInvalidArgument, message_of(file.string(), r));
    if (docs->count > 1) {
      r.error(docs->second_line, "more than one YAML document");
    } else if (docs->count == 1 && !docs->first.IsNull()) {
      if (!docs->first.IsMap()) {
        r.error(line_of(docs->first, 1),
                "expected a mapping (kafka, stateDir, rulesDir, clock, ...)");
      } else {
        read_root(r, docs->first, file.parent_path(), config);
      }
    }
  } catch (const std::exception& e) {
    // yaml-cpp throwing on a node shape not checked above: still a problem of this file.
    r.error(0, std::string("cannot read the config: ") + e.what());
  }
  if (r.count() > 0) return fail(Errc::kInvalidArgument, message_of(file.string(), r));
  return config;
}

Result<std::unique_ptr<RdKafka::Conf>> make_conf(
    const KafkaConfig& config, const std::map<std::string, std::string>& properties) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string detail;
  if (conf->set("event_cb", static_cast<RdKafka::EventCb*>(&log_events), detail) !=
      RdKafka::Conf::CONF_OK) {
    return fail(Errc::kInvalidArgument, "cannot set the Kafka event callback: " + detail);
  }
  SAMORDNA_TRYV(set_property(*conf, "bootstrap.servers", config.bootstrap));
  for (const auto& [name, value] : config.properties) {
    SAMORDNA_TRYV(set_property(*conf, name, value));
  }
  for (const auto& [name, value] : properties) {
    SAMORDNA_TRYV(set_property(*conf, name, value));
  }
  return conf;
}

std::string default_instance_id(const std::filesystem::path& state_dir) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof host, "localhost");
  }
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::absolute(state_dir, ec);
  if (ec) dir = state_dir;
  // weakly_canonical resolves symlinks of the parts that exist, so two spellings of one directory
  // give one id; lexically_normal drops a trailing separator.
  auto canonical = std::filesystem::weakly_canonical(dir, ec);
  if (!ec) dir = canonical;
  std::string key = dir.lexically_normal().string();
  while (key.size() > 1 && key.back() == '/') key.pop_back();
  char hash[9];
  std::snprintf(hash, sizeof hash, "%08x", static_cast<unsigned>(fnv1a(key) & 0xffffffffu));
  return std::string(host) + "-" + hash;
}

Result<std::vector<TestStop>> parse_test_stops(std::string_view text) {
  std::vector<TestStop> out;
  for (bool more = !text.empty(); more;) {
    const auto comma = text.find(',');
    more = comma != std::string_view::npos;
    const std::string_view entry = text.substr(0, comma);
    text = more ? text.substr(comma + 1) : std::string_view();
    auto bad = [&] {
      return fail(
          Errc::kInvalidArgument,
          "SAMORDNA_TEST_STOPS: '" + std::string(entry) +
              "' is not N:begun, N:commit or N:flushed with N a transaction number (1, 2, ...)");
    };
    const auto colon = entry.find(':');
    if (colon == std::string_view::npos) return bad();
    TestStop stop;
    const std::string_view number = entry.substr(0, colon);
    const auto [end, ec] =
        std::from_chars(number.data(), number.data() + number.size(), stop.transaction);
    if (ec != std::errc() || end != number.data() + number.size() || stop.transaction < 1) {
      return bad();
    }
    const std::string_view where = entry.substr(colon + 1);
    if (where == "begun") {
      stop.where = TestStop::Where::kBegun;
    } else if (where == "commit") {
      stop.where = TestStop::Where::kCommit;
    } else if (where == "flushed") {
      stop.where = TestStop::Where::kFlushed;
    } else {
      return bad();
    }
    out.push_back(stop);
  }
  return out;
}

const char* clock_mode_name(ClockMode mode) {
  switch (mode) {
    case ClockMode::kWall:
      return "wall";
    case ClockMode::kEventTime:
      return "event-time";
  }
  return "wall";
}

}  // namespace samordna::kafka
