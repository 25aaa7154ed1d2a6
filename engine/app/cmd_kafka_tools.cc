// samordna produce / consume: tools for integrators testing a feed by hand, and for scripts.
//
//   produce: Event JSON lines -> binary samordna.v1.Event on the events topic, key episodeId.
//   consume: a topic -> JSON lines on stdout (notifications, events, or deadletter records).
//
// connectors/kafka/README.md documents both. Records hold personal data (names, personal identity
// numbers): their contents go to stdout only, never to stderr or logs. stderr gets line numbers,
// offsets and reasons.

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>

#include "connectors/kafka/admin.h"
#include "connectors/kafka/codec.h"
#include "connectors/kafka/config.h"
#include "connectors/kafka/event_feed.h"
#include "connectors/kafka/reader.h"
#include "engine/app/commands.h"
#include "samordna/v1/event.pb.h"
#include "samordna/v1/notification.pb.h"

namespace samordna::app {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// How long a tool waits for the cluster's metadata before it gives up with "cannot reach Kafka".
constexpr milliseconds kConnectTimeout{10000};
// How long `produce` waits for each batch of events to be durable.
constexpr milliseconds kDeliveryBound{30000};

struct ClientArgs {
  std::string bootstrap;
  std::string config_file;
  std::string topic;
  std::vector<std::string> properties;  // -X key=value
};

struct ProduceArgs : ClientArgs {
  std::string file;
};

struct ConsumeArgs : ClientArgs {
  bool from_beginning = false;
  size_t max = 0;  // 0: no limit
  int timeout_ms = 10000;
  std::string group;
  std::string type = "auto";
};

// Prints an error line and hands back the exit status, for `return fail_with(...)`.
int fail_with(int status, const std::string& message) {
  std::cerr << "samordna: " << message << '\n';
  return status;
}

int status_of(const Error& e) {
  switch (e.code) {
    case Errc::kInvalidArgument:
    case Errc::kNotFound:
      return kExitUsage;
    default:
      return kExitFailure;
  }
}

// The config file's kafka section (if --config), under --bootstrap.
std::optional<kafka::KafkaConfig> client_config(const ClientArgs& args, int& status) {
  kafka::KafkaConfig config;
  if (!args.config_file.empty()) {
    auto loaded = kafka::load_service_config(args.config_file);
    if (!loaded) {
      status = fail_with(kExitUsage, loaded.error().message);  // unreadable included
      return std::nullopt;
    }
    config = loaded.value().kafka;
  }
  if (!args.bootstrap.empty()) config.bootstrap = args.bootstrap;
  return config;
}

// -X key=value, applied over the tool's own defaults. Values are never echoed: they may be secrets.
bool add_properties(const std::vector<std::string>& specs,
                    std::map<std::string, std::string>& properties, int& status) {
  for (const auto& spec : specs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
      status = fail_with(kExitUsage, "-X expects key=value (a librdkafka property)");
      return false;
    }
    properties[spec.substr(0, eq)] = spec.substr(eq + 1);
  }
  return true;
}

std::string json_line(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// --- produce -------------------------------------------------------------------------------------

int run_produce(const ProduceArgs& args) {
  int status = kExitOk;
  auto config = client_config(args, status);
  if (!config) return status;
  const std::string topic = args.topic.empty() ? config->topics.events : args.topic;

  // librdkafka gives up on a record after message.timeout.ms; the same bound for each batch's
  // answer, so a timeout reported here is librdkafka's last word too.
  kafka::Properties properties = {{"message.timeout.ms", std::to_string(kDeliveryBound.count())}};
  if (!add_properties(args.properties, properties, status)) return status;

  std::ifstream file;
  std::istream* in = &std::cin;
  if (args.file != "-") {
    file.open(args.file);
    if (!file) return fail_with(kExitUsage, "cannot read events file " + args.file);
    in = &file;
  }

  // A bad property is the caller's to fix before any broker is asked.
  if (auto conf = kafka::make_conf(*config, properties); !conf) {
    return fail_with(kExitUsage, conf.error().message);
  }
  // Fail fast with a clear message instead of retrying an unreachable broker for message.timeout.
  if (auto partitions = kafka::partition_count(*config, topic, kConnectTimeout); !partitions) {
    return fail_with(status_of(partitions.error()), partitions.error().message);
  }
  kafka::FeedOptions feed;
  feed.topic = topic;
  feed.properties = properties;
  feed.bound = kDeliveryBound;
  auto fed =
      kafka::produce_event_lines(*config, *in, feed, [](size_t line_no, const std::string& reason) {
        std::cerr << json_line({{"line", line_no}, {"code", "malformed"}, {"reason", reason}})
                  << '\n';
      });
  if (!fed) return fail_with(kExitUsage, fed.error().message);
  if (fed.value().undelivered > 0) {
    return fail_with(kExitFailure, std::to_string(fed.value().undelivered) +
                                       " event(s) not confirmed by " + topic + ": " +
                                       fed.value().first_error);
  }
  return fed.value().bad_lines > 0 ? kExitRejected : kExitOk;
}

// --- consume -------------------------------------------------------------------------------------

enum class ValueType { kNotification, kEvent, kDeadletter };

std::string random_group() {
  std::random_device rd;
  std::ostringstream out;
  out << "samordna-consume-" << std::hex << rd() << rd();
  return out.str();
}

// The deadletter record as one JSON line: its key, reason and code, other headers, and the original
// bytes in base64 (they are whatever the source sent, possibly not even text).
std::string deadletter_json(const kafka::Record& m) {
  nlohmann::json j = {{"partition", m.partition}, {"offset", m.offset}};
  if (m.key) j["key"] = *m.key;
  nlohmann::json others = nlohmann::json::object();
  for (const auto& [key, value] : m.headers) {
    if (key == kafka::kHeaderCode) {
      j["code"] = value;
    } else if (key == kafka::kHeaderReason) {
      j["reason"] = value;
    } else {
      others[key] = value;
    }
  }
  if (!others.empty()) j["headers"] = others;
  j["value"] = kafka::base64_encode(m.value);
  return json_line(j);
}

// The record's value as a JSON line, or nullopt when it is not the expected message.
std::optional<std::string> value_json(const kafka::Record& m, ValueType type) {
  if (type == ValueType::kDeadletter) return deadletter_json(m);
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  if (type == ValueType::kEvent) {
    v1::Event event;
    if (!event.ParseFromString(m.value)) return std::nullopt;
    (void)google::protobuf::util::MessageToJsonString(event, &json, options);
  } else {
    v1::Notification notification;
    if (!notification.ParseFromString(m.value)) return std::nullopt;
    (void)google::protobuf::util::MessageToJsonString(notification, &json, options);
  }
  return json;
}

int run_consume(const ConsumeArgs& args) {
  int status = kExitOk;
  auto config = client_config(args, status);
  if (!config) return status;
  const kafka::Topics& topics = config->topics;
  const std::string topic = args.topic.empty() ? topics.notifications : args.topic;

  ValueType type = ValueType::kNotification;
  if (args.type == "event" || (args.type == "auto" && topic == topics.events)) {
    type = ValueType::kEvent;
  } else if (args.type == "deadletter" || (args.type == "auto" && topic == topics.deadletter)) {
    type = ValueType::kDeadletter;
  }

  const bool grouped = !args.group.empty();
  // kafka::Reader reads committed records only and commits nothing by itself.
  kafka::Properties properties = {
      {"group.id", grouped ? args.group : random_group()},
      {"auto.offset.reset", args.from_beginning ? "earliest" : "latest"},
  };
  if (!add_properties(args.properties, properties, status)) return status;
  if (auto conf = kafka::make_conf(*config, properties); !conf) {
    return fail_with(kExitUsage, conf.error().message);
  }

  // No group: every partition directly, never committed.
  auto partitions = kafka::every_partition(
      *config, {topic}, args.from_beginning ? kafka::kFromBeginning : kafka::kFromEnd,
      kConnectTimeout);
  if (!partitions) return fail_with(status_of(partitions.error()), partitions.error().message);

  auto made = grouped ? kafka::Reader::subscribe(*config, topic, args.group, properties)
                      : kafka::Reader::assign(*config, partitions.value(), properties);
  if (!made) {
    return fail_with(made.error().code == Errc::kInvalidArgument ? kExitUsage : kExitFailure,
                     "cannot read topic " + topic + ": " + made.error().message);
  }
  kafka::Reader& reader = *made.value();

  std::ios::sync_with_stdio(false);
  std::map<int32_t, int64_t> next_offsets;  // what a grouped consumer commits
  size_t printed = 0;
  size_t undecodable = 0;
  auto last = SteadyClock::now();
  const milliseconds idle(args.timeout_ms);
  while (args.max == 0 || printed < args.max) {
    const auto waited = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - last);
    if (waited >= idle) break;
    // Transport trouble is retried by librdkafka (errors.h: retriable, read past); a missing
    // topic, a refusal or a fatal error ends the reading.
    auto next = reader.next(std::min<milliseconds>(idle - waited, milliseconds{200}));
    if (!next) {
      reader.close();
      return fail_with(kExitFailure, "reading " + topic + ": " + next.error().message);
    }
    if (next.value().kind != kafka::Reader::Next::Kind::kRecord) continue;
    const kafka::Record& m = next.value().record;
    last = SteadyClock::now();
    next_offsets[m.partition] = m.offset + 1;
    if (auto json = value_json(m, type)) {
      std::cout << *json << '\n' << std::flush;  // a line as soon as it is committed
    } else {
      ++undecodable;
      std::cerr << json_line({{"partition", m.partition},
                              {"offset", m.offset},
                              {"code", "malformed"},
                              {"reason", type == ValueType::kEvent
                                             ? "not a binary samordna.v1.Event"
                                             : "not a binary samordna.v1.Notification"}})
                << '\n';
    }
    ++printed;
  }
  std::cout.flush();

  if (grouped && !next_offsets.empty()) {
    if (auto r = reader.commit(next_offsets); !r) {
      reader.close();
      return fail_with(kExitFailure,
                       "cannot commit offsets of group " + args.group + ": " + r.error().message);
    }
  }
  reader.close();
  return undecodable > 0 ? kExitRejected : kExitOk;
}

void add_client_options(CLI::App* cmd, ClientArgs& args, const std::string& topic_help) {
  cmd->add_option("--bootstrap", args.bootstrap,
                  "Kafka bootstrap servers HOST:PORT[,...] (default: the config file's, else "
                  "127.0.0.1:9092)");
  cmd->add_option("--config", args.config_file, "samordna config file (kafka: section, topics)");
  cmd->add_option("--topic", args.topic, topic_help);
  cmd->add_option("-X", args.properties, "librdkafka property key=value (repeatable)")
      ->allow_extra_args(false);
}

}  // namespace

void add_kafka_tool_commands(CLI::App& app, Commands& commands) {
  auto produce_args = std::make_shared<ProduceArgs>();
  auto* produce = app.add_subcommand(
      "produce", "Send Event JSON lines to the events topic as binary samordna.v1.Event");
  add_client_options(produce, *produce_args, "Topic (default: the config's events topic)");
  produce->add_option("--file", produce_args->file, "Event JSON lines ('-' for stdin)")->required();
  commands.emplace_back(produce, [produce_args] { return run_produce(*produce_args); });

  auto consume_args = std::make_shared<ConsumeArgs>();
  auto* consume = app.add_subcommand(
      "consume", "Print a topic's records as JSON lines (committed records only)");
  add_client_options(consume, *consume_args, "Topic (default: the config's notifications topic)");
  consume->add_flag("--from-beginning", consume_args->from_beginning,
                    "Start at the oldest record (else only new ones; a --group resumes at its "
                    "committed offsets)");
  consume->add_option("--max", consume_args->max, "Stop after this many records (0: no limit)")
      ->capture_default_str();
  consume
      ->add_option("--timeout-ms", consume_args->timeout_ms,
                   "Stop after this long without a new record")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  consume->add_option("--group", consume_args->group,
                      "Consumer group: resume from and commit its offsets (default: a fresh "
                      "group, nothing committed)");
  consume
      ->add_option("--type", consume_args->type,
                   "Value type: auto (by topic: the config's events and deadletter topics, "
                   "else notification), notification, event, deadletter")
      ->check(CLI::IsMember({"auto", "notification", "event", "deadletter"}))
      ->capture_default_str();
  commands.emplace_back(consume, [consume_args] { return run_consume(*consume_args); });
}

}  // namespace samordna::app
