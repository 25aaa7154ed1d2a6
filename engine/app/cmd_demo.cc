// samordna demo: the Kafka service on an embedded default, with no outside services. librdkafka's
// in-process mock cluster listens on loopback; the demo creates samordna's topics on it, produces
// a feed of Event JSON lines to the events topic, runs the same exactly-once service as
// `samordna run` (replay clock, so a year of events plays in seconds), and prints every
// notification as a JSON line as it is committed. The mock cluster is for demonstration: it keeps
// no data and does not filter aborted transactions; the tests run against a real broker.

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

#include "connectors/kafka/codec.h"
#include "connectors/kafka/config.h"
#include "connectors/kafka/event_feed.h"
#include "connectors/kafka/mock_cluster.h"
#include "connectors/kafka/reader.h"
#include "connectors/kafka/service.h"
#include "engine/app/commands.h"
#include "engine/core/json_codec.h"
#include "engine/store/db.h"

namespace samordna::app {
namespace {

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0};
extern "C" void on_demo_signal(int sig) {
  g_signal.store(sig);
  g_interrupted.store(true);
}

const char* signal_name(int sig) { return sig == SIGTERM ? "SIGTERM" : "SIGINT"; }

struct DemoArgs {
  std::string events;
  std::string rules_dir = "rules/sets";
  std::string until = "2100-01-01T00:00:00Z";
  int partitions = 4;
  int idle_ms = 3000;
  // Keep the service (and the embedded cluster) running after the feed until SIGINT/SIGTERM, for
  // `samordna serve` and the web app (deploy/demo.sh): acknowledgements made in the browser go
  // through this service like any event.
  bool keep_running = false;
  // Days a settled episode stays in the state (0: forever). deploy/demo.sh passes 0 with the web
  // app: the replay clock runs to --until, far past every settlement, and an acknowledgement made
  // in the browser needs its episode.
  int retention_days = 30;
  std::string bootstrap_file;  // write the embedded cluster's bootstrap address here
};

// The feed's lines, read with read(2) rather than an std::ifstream, which retries a read that a
// signal interrupted: a feed on a pipe (or a slow disk) must not outlast a SIGINT.
class LineReader {
 public:
  LineReader() = default;
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;
  ~LineReader() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool open(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    return fd_ >= 0;
  }
  // The next line without its '\n'; false at the end, on an error or once interrupted.
  bool next(std::string& line) {
    while (true) {
      const size_t nl = buffer_.find('\n', start_);
      if (nl != std::string::npos) {
        line.assign(buffer_, start_, nl - start_);
        start_ = nl + 1;
        return true;
      }
      buffer_.erase(0, start_);
      start_ = 0;
      if (g_interrupted.load()) return false;
      char chunk[65536];
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;  // the flag decides
      if (n <= 0) {
        if (buffer_.empty()) return false;
        line.swap(buffer_);  // a last line without '\n'
        buffer_.clear();
        return true;
      }
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  std::string buffer_;
  size_t start_ = 0;
};

int run_demo(const DemoArgs& args) {
  kafka::ServiceConfig config;
  config.kafka.bootstrap = "unset";
  config.kafka.group_id = "samordna-demo";
  config.kafka.instance_id = "demo";
  config.kafka.create_topics = false;
  config.rules_dir = args.rules_dir;
  config.clock = kafka::ClockMode::kEventTime;
  config.until_unix = to_unix(*parse_time_option("--until", args.until));
  config.retention = std::chrono::hours{24} * args.retention_days;
  const auto state_dir =
      std::filesystem::temp_directory_path() / ("samordna-demo-" + std::to_string(::getpid()));
  config.state_dir = state_dir;

  auto book = load_rules(args.rules_dir);
  if (!book) return kExitUsage;
  LineReader feed;
  if (!feed.open(args.events)) {
    std::cerr << "samordna: cannot read events file " << args.events << '\n';
    return kExitUsage;
  }

  const auto& t = config.kafka.topics;
  // samordna.audit too: `samordna serve` writes its audit records there (deploy/demo.sh).
  auto mock = kafka::MockCluster::start(
      {t.events, t.notifications, t.deadletter, t.changelog, t.episodes, "samordna.audit"},
      args.partitions);
  if (!mock) {
    std::cerr << "samordna: " << mock.error().message << '\n';
    return kExitFailure;
  }
  config.kafka.bootstrap = mock.value()->bootstrap();
  std::cerr << "demo: embedded Kafka (librdkafka mock cluster) at " << config.kafka.bootstrap
            << '\n';
  if (!args.bootstrap_file.empty()) {
    // Written whole under another name, then renamed: a script polling for it never reads half.
    const std::string tmp = args.bootstrap_file + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (f == nullptr || std::fputs(config.kafka.bootstrap.c_str(), f) < 0 || std::fclose(f) != 0 ||
        std::rename(tmp.c_str(), args.bootstrap_file.c_str()) != 0) {
      std::cerr << "samordna: cannot write --bootstrap-file " << args.bootstrap_file << '\n';
      return kExitUsage;
    }
  }

  // A signal while the feed is produced ends the demo here, with a word about how far it got
  // (the handlers stay for the viewer below).
  // Without SA_RESTART, so that a read blocked on a pipe or a terminal returns.
  struct sigaction action = {};
  action.sa_handler = on_demo_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  kafka::FeedOptions feed_options;
  feed_options.topic = config.kafka.topics.events;
  feed_options.interrupted = [] { return g_interrupted.load(); };
  auto produced = kafka::produce_event_lines(
      config.kafka, [&feed](std::string& line) { return feed.next(line); }, feed_options,
      [](size_t line_no, const std::string& reason) {
        std::cerr << "demo: line " << line_no << " skipped: " << reason << '\n';
      });
  if (produced && produced.value().interrupted) {
    std::cerr << "samordna: demo interrupted by " << signal_name(g_signal.load())
              << " while producing the feed: " << produced.value().durable << " of "
              << produced.value().sent
              << " events sent were confirmed by the embedded cluster; stopped before the "
                 "service ran: no notification was made\n";
    return kExitFailure;
  }
  if (!produced || produced.value().undelivered > 0) {
    std::cerr << "samordna: the feed was not delivered to the embedded cluster"
              << (produced ? ": " + produced.value().first_error : ": " + produced.error().message)
              << '\n';
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

  // Show the notifications as the service commits them: every partition from the beginning.
  auto viewer_partitions = kafka::every_partition(config.kafka, {config.kafka.topics.notifications},
                                                  kafka::kFromBeginning, std::chrono::seconds{30});
  auto viewer = viewer_partitions
                    ? kafka::Reader::assign(config.kafka, viewer_partitions.value(),
                                            {{"group.id", "samordna-demo-viewer"}})
                    : Result<std::unique_ptr<kafka::Reader>>(viewer_partitions.error());
  size_t shown = 0;
  if (viewer) {
    JsonCodec json;
    std::string out;
    auto last = std::chrono::steady_clock::now();
    // The first transaction takes a few seconds; after that, stop once the stream has been quiet
    // for idle_ms.
    const auto startup_grace = std::chrono::seconds(30);
    bool said_live = false;
    while (!g_interrupted.load() &&
           (args.keep_running ||
            std::chrono::steady_clock::now() - last <
                (shown == 0 ? startup_grace : std::chrono::milliseconds(args.idle_ms)))) {
      if (args.keep_running && !said_live && shown > 0 &&
          std::chrono::steady_clock::now() - last > std::chrono::milliseconds(args.idle_ms)) {
        said_live = true;
        std::cerr << "demo: " << shown
                  << " notifications so far; the service keeps running (Ctrl-C stops it)\n";
      }
      auto next = viewer.value()->next(std::chrono::milliseconds{200});
      if (!next) {  // not retriable (reader.h): say so rather than wait out the idle time
        std::cerr << "samordna: demo viewer: " << next.error().message << '\n';
        break;
      }
      if (next.value().kind != kafka::Reader::Next::Kind::kRecord) continue;
      v1::Notification n;
      if (!n.ParseFromString(next.value().record.value)) continue;
      out.clear();
      if (!json.print(n, out)) {
        std::cerr << "samordna: notification " << n.notification_id()
                  << " could not be written as JSON\n";
        continue;
      }
      std::cout << out << '\n' << std::flush;
      ++shown;
      last = std::chrono::steady_clock::now();
    }
    viewer.value()->close();
  } else {
    std::cerr << "samordna: demo viewer: " << viewer.error().message
              << " (the service runs on; its notifications are not shown)\n";
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
  demo->add_option("--retention-days", args->retention_days,
                   "Days a settled episode stays in the state; 0 keeps it forever")
      ->capture_default_str()
      ->check(CLI::Range(0, 36500));
  demo->add_flag("--keep-running", args->keep_running,
                 "Keep the service running after the feed until SIGINT/SIGTERM (for serve)");
  demo->add_option("--bootstrap-file", args->bootstrap_file,
                   "Write the embedded cluster's bootstrap address to this file");
  commands.emplace_back(demo, [args] { return run_demo(*args); });
}

}  // namespace samordna::app
