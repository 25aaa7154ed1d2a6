// samordna run: the Kafka service (connectors/kafka/service.h). SIGTERM and SIGINT stop it
// cleanly: the open transaction is committed and the consumer closed.

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>

#include "connectors/kafka/config.h"
#include "connectors/kafka/service.h"
#include "engine/app/commands.h"
#include "engine/app/metrics_http.h"
#include "engine/app/run_metrics.h"
#include "engine/store/db.h"

namespace samordna::app {
namespace {

std::atomic<kafka::Service*> g_service{nullptr};

extern "C" void on_stop_signal(int) {
  if (auto* service = g_service.load()) service->stop();
}

struct RunArgs {
  std::string config;
  std::string bootstrap;
  std::string state_dir;
  std::string rules_dir;
  std::string instance_id;
  std::string clock;
  std::string until;
  std::vector<std::string> properties;  // -X key=value
  bool no_create_topics = false;
  bool exit_at_end = false;
  int retention_days = -1;  // -1: the config's (default 30)
  int metrics_port = -1;    // -1: the config's (default 0: none)
  std::string metrics_address;
  int verbosity = 0;  // -v info, -vv debug (a line per transaction)
};

int run_service(const RunArgs& args) {
  if (args.verbosity == 1) spdlog::set_level(spdlog::level::info);
  if (args.verbosity >= 2) spdlog::set_level(spdlog::level::debug);
  kafka::ServiceConfig config;
  if (!args.config.empty()) {
    auto loaded = kafka::load_service_config(args.config);
    if (!loaded) {
      std::cerr << "samordna: " << loaded.error().message << '\n';
      return kExitUsage;
    }
    config = std::move(loaded.value());
  }
  if (!args.bootstrap.empty()) config.kafka.bootstrap = args.bootstrap;
  if (!args.state_dir.empty()) config.state_dir = args.state_dir;
  if (!args.rules_dir.empty()) config.rules_dir = args.rules_dir;
  if (!args.instance_id.empty()) config.kafka.instance_id = args.instance_id;
  if (args.no_create_topics) config.kafka.create_topics = false;
  if (args.exit_at_end) config.exit_at_end = true;
  if (args.retention_days >= 0) {
    config.retention = std::chrono::hours{24} * static_cast<int64_t>(args.retention_days);
  }
  if (args.metrics_port >= 0) config.metrics_port = args.metrics_port;
  if (!args.metrics_address.empty()) config.metrics_address = args.metrics_address;
  if (args.clock == "event-time") config.clock = kafka::ClockMode::kEventTime;
  if (args.clock == "wall") config.clock = kafka::ClockMode::kWall;
  if (auto until = parse_time_option("--until", args.until)) config.until_unix = to_unix(*until);
  for (const auto& kv : args.properties) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "samordna: -X expects key=value\n";
      return kExitUsage;
    }
    config.kafka.properties[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // Tests only (ServiceConfig::test_stops): not an option, so that no one sets it by mistake.
  if (const char* stops = std::getenv("SAMORDNA_TEST_STOPS"); stops != nullptr) {
    auto parsed = kafka::parse_test_stops(stops);
    if (!parsed) {
      std::cerr << "samordna: " << parsed.error().message << '\n';
      return kExitUsage;
    }
    config.test_stops = std::move(parsed.value());
  }
  if (config.kafka.instance_id.empty()) {
    config.kafka.instance_id = kafka::default_instance_id(config.state_dir);
  }

  auto book = load_rules(config.rules_dir.string());
  if (!book) return kExitUsage;
  store::DbOptions db_options;  // no fsync: the changelog topic backs the state
  auto db = store::Db::open(config.state_dir, db_options);
  if (!db) {
    std::cerr << "samordna: state dir " << config.state_dir.string() << ": " << db.error().message
              << '\n';
    if (db.error().code == Errc::kCorruption || db.error().code == Errc::kIo) {
      // Nothing is lost with it: RocksDB here only mirrors the changelog topic.
      std::cerr << "samordna: the state dir is a copy of the changelog topic: if it is damaged, "
                   "move it aside and start again, and every partition is restored from the "
                   "changelog\n";
      return kExitFailure;  // damaged data (docs/errors.md), not a wrong argument
    }
    return kExitUsage;  // in use by another process, another format version
  }
  // Metrics: the registry and run's hooks exist only when they are served.
  metrics::Registry registry;
  std::optional<RunMetrics> run_metrics;
  std::unique_ptr<http::Server> metrics_server;
  if (config.metrics_port > 0) {
    run_metrics.emplace(registry);
    auto server = start_metrics_server(registry, config.metrics_address,
                                       static_cast<uint16_t>(config.metrics_port));
    if (!server) {
      std::cerr << "samordna: metrics endpoint: " << server.error().message << '\n';
      return kExitUsage;  // a port in use or a bad address: the operator's to fix
    }
    metrics_server = std::move(server.value());
    spdlog::info("metrics at http://{}:{}/metrics", config.metrics_address, metrics_server->port());
  }
  kafka::Service service(config, *book, *db.value(), run_metrics ? &*run_metrics : nullptr);
  g_service.store(&service);
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
  auto result = service.run();
  g_service.store(nullptr);
  if (!result) {
    std::cerr << "samordna: " << result.error().message << '\n';
    // A configuration a person must fix (a bad property, missing topics, a rule set edited under
    // episodes in flight) is a usage error; the rest (broker, disk) a failure.
    const Errc code = result.error().code;
    return code == Errc::kInvalidArgument || code == Errc::kNotFound || code == Errc::kConflict
               ? kExitUsage
               : kExitFailure;
  }
  return kExitOk;
}

}  // namespace

void add_run_command(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<RunArgs>();
  auto* run = app.add_subcommand("run", "Run the engine as a Kafka service, exactly once");
  run->add_option("--config", args->config, "YAML config file (deploy/config/samordna.yaml)");
  run->add_option("--bootstrap", args->bootstrap, "Kafka bootstrap servers, HOST:PORT[,...]");
  run->add_option("--state-dir", args->state_dir, "RocksDB state directory");
  run->add_option("--rules", args->rules_dir, "Rules directory");
  run->add_option("--instance-id", args->instance_id,
                  "Stable id of this instance (default: host name and state dir)");
  run->add_option("--clock", args->clock, "wall (live, default) or event-time (replay)")
      ->check(CLI::IsMember({"wall", "event-time"}));
  run->add_option("--until", args->until,
                  "event-time: at a partition's end, advance its clock here");
  run->add_option("-X", args->properties, "librdkafka property key=value (repeatable)");
  run->add_flag("--no-create-topics", args->no_create_topics,
                "Fail instead of creating missing topics");
  run->add_flag("--exit-at-end", args->exit_at_end,
                "Stop cleanly once every assigned partition is consumed to its end and its due "
                "timers have fired (replay, backfill, benchmarks)");
  run->add_option("--retention-days", args->retention_days,
                  "Days a settled episode stays in the state before it is removed (0: keep; "
                  "default 30)")
      ->check(CLI::Range(0, 36500));
  run->add_option("--metrics-port", args->metrics_port,
                  "Serve Prometheus metrics at http://ADDRESS:PORT/metrics (0: none, the default)")
      ->check(CLI::Range(0, 65535));
  run->add_option("--metrics-address", args->metrics_address,
                  "Address the metrics endpoint listens on (default 0.0.0.0)");
  run->add_flag("-v,--verbose", args->verbosity,
                "Log progress to stderr: -v info, -vv debug (a line per transaction)");
  commands.emplace_back(run, [args] { return run_service(*args); });
}

}  // namespace samordna::app
