// samordna demo: the Kafka service on an embedded default, with no outside services. librdkafka's
// in-process mock cluster listens on loopback; the demo creates samordna's topics on it, produces
// a feed of Event JSON lines to the events topic, runs the same exactly-once service as
// `samordna run` (replay clock, so a year of events plays in seconds), and prints every
// notification as a JSON line as it is committed. The mock cluster is for demonstration: it keeps
// no data and does not filter aborted transactions; the tests run against a real broker.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "connectors/kafka/codec.h"
#include "connectors/kafka/config.h"
#include "connectors/kafka/event_feed.h"
#include "connectors/kafka/service.h"
#include "engine/app/commands.h"
#include "engine/core/json_codec.h"
#include "engine/store/db.h"

namespace samordna::app {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_demo_signal(int) { g_interrupted.store(true); }

struct DemoArgs {
  std::string events;
  std::string rules_dir = "rules/sets";
  std::string until = "2100-01-01T00:00:00Z";
  int partitions = 4;
  int idle_ms = 3000;
};

// The mock cluster lives as long as the handle that made it.
struct MockCluster {
  rd_kafka_t* handle = nullptr;
  rd_kafka_mock_cluster_t* cluster = nullptr;
  ~MockCluster() {
    if (handle) rd_kafka_destroy(handle);
  }
};

Result<void> start_mock(MockCluster& mock, const kafka::KafkaConfig& config, int partitions) {
  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return fail(Errc::kUnavailable, std::string("mock cluster: ") + errstr);
  }
  mock.handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!mock.handle) return fail(Errc::kUnavailable, std::string("mock cluster: ") + errstr);
  // Owned by the handle that made it.
  mock.cluster = rd_kafka_handle_mock_cluster(mock.handle);
  if (!mock.cluster) return fail(Errc::kUnavailable, "mock cluster could not start");
  const auto& t = config.topics;
  for (const std::string& topic :
       {t.events, t.notifications, t.deadletter, t.changelog, t.episodes}) {
    if (rd_kafka_mock_topic_create(mock.cluster, topic.c_str(), partitions, 1) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      return fail(Errc::kUnavailable, "mock cluster: cannot create " + topic);
    }
  }
  return ok();
}

int run_demo(const DemoArgs& args) {
  kafka::ServiceConfig config;
  config.kafka.bootstrap = "unset";
  config.kafka.group_id = "samordna-demo";
  config.kafka.instance_id = "demo";
  config.kafka.create_topics = false;
  config.rules_dir = args.rules_dir;
  config.clock = kafka::ClockMode::kEventTime;
  config.until_unix = to_unix(*parse_time_option("--until", args.until));
  const auto state_dir =
      std::filesystem::temp_directory_path() / ("samordna-demo-" + std::to_string(::getpid()));
  config.state_dir = state_dir;

  auto book = load_rules(args.rules_dir);
  if (!book) return kExitUsage;
  std::ifstream feed(args.events);
  if (!feed) {
    std::cerr << "samordna: cannot read events file " << args.events << '\n';
    return kExitUsage;
  }

  MockCluster mock;
  if (auto started = start_mock(mock, config.kafka, args.partitions); !started) {
    std::cerr << "samordna: " << started.error().message << '\n';
    return kExitFailure;
  }
  config.kafka.bootstrap = rd_kafka_mock_cluster_bootstraps(mock.cluster);
  std::cerr << "demo: embedded Kafka (librdkafka mock cluster) at " << config.kafka.bootstrap
            << '\n';

  auto produced = kafka::produce_event_lines(config.kafka, config.kafka.topics.events, feed, {},
                                             [](size_t line_no, const std::string& reason) {
                                               std::cerr << "demo: line " << line_no
                                                         << " skipped: " << reason << '\n';
                                             });
  if (!produced || produced.value().undelivered > 0) {
    std::cerr << "samordna: the feed was not delivered to the embedded cluster\n";
    return kExitFailure;
  }
  std::cerr << "demo: " << produced.value().sent << " events on " << config.kafka.topics.events
            << '\n';

  auto db = store::Db::open(config.state_dir, store::DbOptions{});
  if (!db) {
    std::cerr << "samordna: " << db.error().message << '\n';
    return kExitFailure;
  }
  kafka::Service service(config, *book, *db.value());
  Result<void> service_result = ok();
  std::thread engine([&] { service_result = service.run(); });

  // Show the notifications as the service commits them.
  auto cconf = kafka::make_conf(config.kafka, {{"group.id", "samordna-demo-viewer"},
                                               {"auto.offset.reset", "earliest"},
                                               {"enable.auto.commit", "false"},
                                               {"isolation.level", "read_committed"}});
  std::string errstr;
  std::unique_ptr<RdKafka::KafkaConsumer> viewer(
      cconf ? RdKafka::KafkaConsumer::create(cconf.value().get(), errstr) : nullptr);
  size_t shown = 0;
  if (viewer && viewer->subscribe({config.kafka.topics.notifications}) == RdKafka::ERR_NO_ERROR) {
    JsonCodec json;
    std::string out;
    auto last = std::chrono::steady_clock::now();
    std::signal(SIGINT, on_demo_signal);
    std::signal(SIGTERM, on_demo_signal);
    // Joining the group and the first transaction take a few seconds; after that, stop once the
    // stream has been quiet for idle_ms.
    const auto startup_grace = std::chrono::seconds(30);
    while (!g_interrupted.load() &&
           std::chrono::steady_clock::now() - last <
               (shown == 0 ? startup_grace : std::chrono::milliseconds(args.idle_ms))) {
      std::unique_ptr<RdKafka::Message> m(viewer->consume(200));
      if (m->err() != RdKafka::ERR_NO_ERROR) continue;
      v1::Notification n;
      if (!n.ParseFromArray(m->payload(), static_cast<int>(m->len()))) continue;
      out.clear();
      json.print(n, out);
      std::cout << out << '\n' << std::flush;
      ++shown;
      last = std::chrono::steady_clock::now();
    }
    viewer->close();
  }
  service.stop();
  engine.join();
  std::filesystem::remove_all(state_dir);
  std::cerr << "demo: " << shown << " notifications\n";
  if (!service_result) {
    std::cerr << "samordna: " << service_result.error().message << '\n';
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

void add_demo_command(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<DemoArgs>();
  auto* demo = app.add_subcommand(
      "demo", "The Kafka service on an embedded mock cluster: feed in, notifications out");
  demo->add_option("--events", args->events, "Event JSON lines to feed")->required();
  demo->add_option("--rules", args->rules_dir, "Rules directory")->capture_default_str();
  demo->add_option("--until", args->until, "Replay clock: at the end, fire timers up to here")
      ->capture_default_str();
  demo->add_option("--partitions", args->partitions, "Partitions per topic")->capture_default_str();
  demo->add_option("--idle-ms", args->idle_ms, "Stop after this long without a new notification")
      ->capture_default_str();
  commands.emplace_back(demo, [args] { return run_demo(*args); });
}

}  // namespace samordna::app
