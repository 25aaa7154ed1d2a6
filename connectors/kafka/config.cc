#include "connectors/kafka/config.h"

#include <spdlog/spdlog.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "engine/core/time.h"

namespace samordna::kafka {
namespace {

// --- YAML reading --------------------------------------------------------------------------------
//
// Every problem is collected with its line, so one run of `samordna run --config` shows all of
// them; the Result's message is the list, one "file:line: reason" per line.

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  void error(int line, const std::string& reason) {
    errors_.push_back(file_ + ":" + std::to_string(line) + ": " + reason);
  }
  bool failed() const { return !errors_.empty(); }
  std::string message() const {
    std::string all;
    for (const auto& e : errors_) all += (all.empty() ? "" : "\n") + e;
    return all;
  }

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

// 1-based line of a node, or `fallback` when yaml-cpp has no position for it.
int line_of(const YAML::Node& n, int fallback) {
  if (!n.IsDefined()) return fallback;
  const YAML::Mark m = n.Mark();
  return m.is_null() || m.line < 0 ? fallback : m.line + 1;
}

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

// "group_id" and "GroupID" both fold to "groupid": the usual slips for "groupId".
std::string fold(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '_' || c == '-' || c == '.') continue;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

struct Field {
  int line = 0;
  YAML::Node value;
};

// The keys of one mapping: reports non-scalar, duplicate and unknown keys on construction, so a
// typo is never silently ignored.
class Fields {
 public:
  Fields(Reader& r, const YAML::Node& map, int map_line, std::string_view where,
         std::initializer_list<std::string_view> known) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      const int line = line_of(it->first, map_line);
      if (!it->first.IsScalar()) {
        r.error(line, "a key in " + std::string(where) + " is not a plain name");
        continue;
      }
      const std::string& name = it->first.Scalar();
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        r.error(line, "unknown key " + in_quotes(name) + " in " + std::string(where) +
                          suggestion(name, known));
        continue;
      }
      if (const auto seen = fields_.find(name); seen != fields_.end()) {
        r.error(line, "duplicate key " + in_quotes(name) + " in " + std::string(where) +
                          " (first at line " + std::to_string(seen->second.line) + ")");
        continue;
      }
      fields_.emplace(name, Field{line, it->second});
    }
  }

  // The field if present with a value; an explicit null (`key:` or `key: ~`) counts as absent.
  const Field* get(const std::string& key) const {
    const auto it = fields_.find(key);
    return it == fields_.end() || it->second.value.IsNull() ? nullptr : &it->second;
  }

 private:
  static std::string suggestion(std::string_view name,
                                std::initializer_list<std::string_view> known) {
    for (std::string_view k : known) {
      if (fold(k) == fold(name)) return " (did you mean " + in_quotes(k) + "?)";
    }
    std::string all;
    for (std::string_view k : known) all += (all.empty() ? "" : ", ") + std::string(k);
    return " (known keys: " + all + ")";
  }

  std::map<std::string, Field> fields_;
};

// A plain (unquoted) scalar: "4" in quotes is a string, so it is no number and no boolean.
bool is_plain_scalar(const YAML::Node& n) { return n.IsScalar() && n.Tag() != "!"; }

std::optional<std::string> read_string(Reader& r, const std::string& key, const Field& f) {
  if (!f.value.IsScalar()) {
    r.error(f.line, in_quotes(key) + " must be a single value, not a list or mapping");
    return std::nullopt;
  }
  return f.value.Scalar();
}

std::optional<int64_t> read_int(Reader& r, const std::string& key, const Field& f, int64_t min,
                                int64_t max) {
  const std::string what = in_quotes(key) + " must be a whole number from " + std::to_string(min) +
                           " to " + std::to_string(max);
  if (!is_plain_scalar(f.value)) {
    r.error(f.line, what);
    return std::nullopt;
  }
  const std::string& s = f.value.Scalar();
  size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  if (i == s.size() || s.size() > 18 ||
      !std::all_of(s.begin() + static_cast<std::ptrdiff_t>(i), s.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    r.error(f.line, what);
    return std::nullopt;
  }
  const int64_t v = std::stoll(s);
  if (v < min || v > max) {
    r.error(f.line, what);
    return std::nullopt;
  }
  return v;
}

std::optional<bool> read_bool(Reader& r, const std::string& key, const Field& f) {
  if (is_plain_scalar(f.value) && (f.value.Scalar() == "true" || f.value.Scalar() == "false")) {
    return f.value.Scalar() == "true";
  }
  r.error(f.line, in_quotes(key) + " must be true or false");
  return std::nullopt;
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
    r.error(f.line, "'topics' must be a mapping (events, notifications, deadletter, changelog)");
    return;
  }
  const Fields fields(r, f.value, f.line, "kafka.topics",
                      {"events", "notifications", "deadletter", "changelog"});
  const std::pair<const char*, std::string*> slots[] = {{"events", &topics.events},
                                                        {"notifications", &topics.notifications},
                                                        {"deadletter", &topics.deadletter},
                                                        {"changelog", &topics.changelog}};
  std::map<std::string, std::string> seen;  // name -> role
  for (const auto& [key, slot] : slots) {
    if (const Field* t = fields.get(key)) {
      if (auto name = read_string(r, key, *t)) {
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
  const Fields fields(r, f.value, f.line, "kafka",
                      {"bootstrap", "groupId", "instanceId", "createTopics", "partitions",
                       "replicationFactor", "topics", "properties"});
  auto non_empty = [&](const char* key, std::string& out) {
    if (const Field* x = fields.get(key)) {
      if (auto v = read_string(r, key, *x)) {
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
    if (auto v = read_bool(r, "createTopics", *x)) k.create_topics = *v;
  }
  if (const Field* x = fields.get("partitions")) {
    if (auto v = read_int(r, "partitions", *x, 1, 10000)) k.partitions = static_cast<int>(*v);
  }
  if (const Field* x = fields.get("replicationFactor")) {
    if (auto v = read_int(r, "replicationFactor", *x, 1, 32767)) {
      k.replication_factor = static_cast<int>(*v);
    }
  }
  if (const Field* x = fields.get("topics")) read_topics(r, *x, k.topics);
  if (const Field* x = fields.get("properties")) read_properties(r, *x, k.properties);
}

void read_root(Reader& r, const YAML::Node& root, const std::filesystem::path& base,
               ServiceConfig& c) {
  const Fields fields(r, root, line_of(root, 1), "the file",
                      {"kafka", "stateDir", "rulesDir", "clock", "until", "maxBatch", "maxBatchMs",
                       "timerPass", "transactionTimeoutMs"});
  if (const Field* x = fields.get("kafka")) read_kafka(r, *x, c.kafka);
  // Relative paths are taken from the config file's folder, not the working directory, so a
  // service unit and a developer's shell read the same file the same way.
  auto path = [&](const char* key, std::filesystem::path& out) {
    if (const Field* x = fields.get(key)) {
      if (auto v = read_string(r, key, *x)) {
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
    if (auto v = read_string(r, "clock", *x)) {
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
    if (auto v = read_string(r, "until", *x)) {
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
    if (auto v = read_int(r, "maxBatch", *x, 1, 1000000)) c.max_batch = static_cast<size_t>(*v);
  }
  if (const Field* x = fields.get("maxBatchMs")) {
    if (auto v = read_int(r, "maxBatchMs", *x, 0, 60000)) c.max_batch_ms = static_cast<int>(*v);
  }
  if (const Field* x = fields.get("timerPass")) {
    if (auto v = read_int(r, "timerPass", *x, 1, 1000000)) c.timer_pass = static_cast<size_t>(*v);
  }
  if (const Field* x = fields.get("transactionTimeoutMs")) {
    // librdkafka's range starts at 1 s; the broker's transaction.max.timeout.ms defaults to 15 min.
    if (auto v = read_int(r, "transactionTimeoutMs", *x, 1000, 900000)) {
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

  Reader r(file.string());
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(content.str());
  } catch (const YAML::ParserException& e) {
    r.error(e.mark.is_null() ? 0 : e.mark.line + 1, "YAML syntax error: " + e.msg);
    return fail(Errc::kInvalidArgument, r.message());
  }
  ServiceConfig config;
  if (docs.size() > 1) {
    r.error(line_of(docs[1], 0), "more than one YAML document");
  } else if (!docs.empty() && !docs[0].IsNull()) {
    if (!docs[0].IsMap()) {
      r.error(line_of(docs[0], 1), "expected a mapping (kafka, stateDir, rulesDir, clock, ...)");
    } else {
      std::filesystem::path base = file.parent_path();
      read_root(r, docs[0], base, config);
    }
  }
  if (r.failed()) return fail(Errc::kInvalidArgument, r.message());
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
