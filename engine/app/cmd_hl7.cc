// samordna hl7 parse FILE [--config F] [--ack]: the integrator's dry run. Prints, as JSON lines,
// the events one HL7 v2 message would produce, or with --ack the acknowledgement it would get (one
// segment a line). A summary line goes to stderr. Exit 0 when the message would be accepted, 1
// when it would get AE/AR (connectors/hl7/README.md).
//
// samordna hl7 listen --bootstrap H:P --port N [--config F]: the MLLP server
// (connectors/hl7/mllp_server.h) whose Acknowledger answers AA/CA only once the message's events
// are committed by the intake (connectors/kafka/intake.h). This file is the only place that sees
// both: connectors/hl7 stays Kafka-free behind hl7::DurableStore.

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <thread>

#include "connectors/hl7/acknowledger.h"
#include "connectors/hl7/adt_mapping.h"
#include "connectors/hl7/listener_config.h"
#include "connectors/hl7/mllp_server.h"
#include "connectors/hl7/sender_config.h"
#include "connectors/kafka/config.h"
#include "connectors/kafka/intake.h"
#include "engine/app/commands.h"
#include "engine/app/listener_metrics.h"
#include "engine/app/metrics_http.h"
#include "engine/core/json_codec.h"

namespace samordna::app {
namespace {

struct ParseArgs {
  std::string file;
  std::string config;
  bool ack = false;
};

int run_parse(const ParseArgs& args) {
  hl7::SenderConfig config;
  if (!args.config.empty()) {
    auto loaded = hl7::load_sender_config(args.config);
    if (!loaded) {
      std::cerr << "samordna: " << loaded.error().message << '\n';
      return kExitUsage;
    }
    config = std::move(loaded).value();
  }
  std::ifstream in(args.file, std::ios::binary);
  if (!in) {
    std::cerr << "samordna: cannot read " << args.file << '\n';
    return kExitFailure;
  }
  // Read at most one byte past the bound: a huge file is refused, not loaded.
  std::string bytes;
  bytes.resize(config.parse.max_message_bytes + 1);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<std::size_t>(in.gcount()));

  auto processed = hl7::process(bytes, config);
  const auto& outcome = processed.mapped.outcome;
  if (args.ack) {
    // The dry run's ACK has a fixed time and control id so that two runs compare equal.
    std::string ack = hl7::build_ack(processed.original, outcome, "DRYRUN", from_unix(0));
    for (char& c : ack) {
      if (c == '\r') c = '\n';
    }
    std::cout << ack;
  } else {
    JsonCodec codec;
    for (const auto& e : processed.mapped.events) {
      std::string line;
      codec.print(e, line);
      std::cout << line << '\n';
    }
  }
  const char* code = outcome.code == hl7::AckCode::kAccept  ? "accept"
                     : outcome.code == hl7::AckCode::kError ? "error"
                                                            : "reject";
  std::cerr << "hl7 parse: " << code << ", " << processed.mapped.events.size() << " event(s)";
  if (outcome.error != hl7::ErrorCode::kNone) {
    std::cerr << ", " << static_cast<int>(outcome.error) << " " << hl7::error_text(outcome.error);
  }
  if (!outcome.text.empty()) std::cerr << ": " << outcome.text;
  std::cerr << '\n';
  return outcome.code == hl7::AckCode::kAccept ? kExitOk : kExitRejected;
}

// hl7::DurableStore over the intake: commit unless the message's key is there already.
class IntakeStore : public hl7::DurableStore {
 public:
  // `metrics` (optional) times each submission until its answer.
  IntakeStore(kafka::Intake& intake, ListenerMetrics* metrics)
      : intake_(intake), metrics_(metrics) {}

  void submit(std::vector<v1::Event> events, Record memory, std::vector<Record> more,
              Clock::time_point deadline, std::function<void(Answer)> done) override {
    kafka::Submission s;
    s.events = std::move(events);
    s.memory = {std::move(memory.key), std::move(memory.value)};
    s.when = kafka::Precondition::absent();
    for (auto& r : more) s.more.push_back({std::move(r.key), std::move(r.value)});
    intake_.submit(std::move(s), deadline,
                   [done = std::move(done), m = metrics_,
                    start = std::chrono::steady_clock::now()](kafka::IntakeOutcome out) {
                     if (m)
                       m->observe_intake(kafka::intake_status_name(out.status),
                                         std::chrono::steady_clock::now() - start);
                     Answer a;
                     switch (out.status) {
                       case kafka::IntakeOutcome::Status::kDurable:
                         a.status = Status::kDurable;
                         break;
                       case kafka::IntakeOutcome::Status::kConflict:
                         a.status = out.current ? Status::kKnown : Status::kNotConfirmed;
                         if (out.current) {
                           a.current = std::move(out.current->value);
                           a.current_durable = out.current->durable;
                         }
                         break;
                       case kafka::IntakeOutcome::Status::kTimedOut:
                       case kafka::IntakeOutcome::Status::kFailed:
                         a.status = Status::kNotConfirmed;
                         break;
                     }
                     done(std::move(a));
                   });
  }

  std::optional<std::pair<std::string, bool>> recall(const std::string& key) const override {
    auto r = intake_.recall(key);
    if (!r) return std::nullopt;
    return std::make_pair(std::move(r->value), r->durable);
  }

 private:
  kafka::Intake& intake_;
  ListenerMetrics* metrics_;
};

struct ListenArgs {
  std::string bootstrap;
  int port = -1;
  std::string bind;
  std::string config;
  std::string kafka_config;
  std::string instance;
  std::string events_topic, memory_topic;
  std::string tls_cert, tls_key;
  std::vector<std::string> properties;  // -X key=value
  int durable_bound_ms = -1;
  int verbosity = 0;
  int metrics_port = 0;  // 0: no /metrics
  std::string metrics_address = "127.0.0.1";
};

// --metrics-port: the acknowledger's, the MLLP server's and the intake's counters, read when
// scraped, and the intake's latency (listener_metrics.h). Nothing here carries message content.
void add_hl7_counters(ListenerMetrics& m, const hl7::Acknowledger& ack,
                      const hl7::MllpServer& srv) {
  const auto* a = &ack.stats();
  const std::string msgs = "samordna_hl7_messages_total";
  const std::string msgs_help =
      "HL7 messages answered, by acknowledgement: accepted (AA/CA), error (AE/CE), rejected "
      "(AR/CR)";
  m.add_counter(msgs, msgs_help, {"ack"}, {"accepted"}, [a] { return a->accepted.load(); });
  m.add_counter(msgs, msgs_help, {"ack"}, {"error"}, [a] { return a->errors.load(); });
  m.add_counter(msgs, msgs_help, {"ack"}, {"rejected"}, [a] { return a->rejected.load(); });
  m.add_counter("samordna_hl7_replayed_total",
                "Resent messages answered with their first ACK from the intake's memory", {}, {},
                [a] { return a->replayed.load(); });
  m.add_counter("samordna_hl7_control_id_reused_total",
                "Messages refused with 205: a control id reused for other content", {}, {},
                [a] { return a->duplicates_205.load(); });
  m.add_counter("samordna_hl7_not_confirmed_total",
                "Messages answered AE/CE 207 because Kafka did not confirm them within the bound",
                {}, {}, [a] { return a->not_confirmed.load(); });
  m.add_counter("samordna_hl7_events_total", "Events the accepted messages made", {}, {},
                [a] { return a->events.load(); });
  const auto* server = &srv;
  m.add_counter("samordna_hl7_frames_total", "MLLP frames received", {}, {},
                [server] { return server->stats().frames; });
  m.add_counter("samordna_hl7_frame_errors_total",
                "MLLP framing errors (a frame too large, bytes outside a frame, a cut frame)", {},
                {}, [server] { return server->stats().framing_errors; });
  const std::string conns = "samordna_hl7_connections_total";
  const std::string conns_help = "Connections accepted and refused (over max_connections)";
  m.add_counter(conns, conns_help, {"result"}, {"accepted"},
                [server] { return server->stats().accepted_connections; });
  m.add_counter(conns, conns_help, {"result"}, {"refused"},
                [server] { return server->stats().refused_connections; });
  m.add_counter("samordna_hl7_idle_closed_total", "Connections closed after the idle timeout", {},
                {}, [server] { return server->stats().idle_closed; });
  m.add_gauge("samordna_hl7_connections_open", "Connections open now",
              [server] { return static_cast<double>(server->stats().open_connections); });
}

int run_listen(const ListenArgs& args) {
  spdlog::set_level(args.verbosity >= 2   ? spdlog::level::debug
                    : args.verbosity == 1 ? spdlog::level::info
                                          : spdlog::level::warn);
  hl7::ListenerConfig config;
  if (!args.config.empty()) {
    auto loaded = hl7::load_listener_config(args.config);
    if (!loaded) {
      std::cerr << "samordna: " << loaded.error().message << '\n';
      return kExitUsage;
    }
    config = std::move(loaded).value();
  }
  kafka::KafkaConfig kafka_config;
  if (!args.kafka_config.empty()) {
    auto loaded = kafka::load_service_config(args.kafka_config);
    if (!loaded) {
      std::cerr << "samordna: " << loaded.error().message << '\n';
      return kExitUsage;
    }
    kafka_config = loaded.value().kafka;
  }
  if (!args.bootstrap.empty()) kafka_config.bootstrap = args.bootstrap;
  for (const auto& kv : args.properties) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "samordna: -X expects key=value\n";
      return kExitUsage;
    }
    kafka_config.properties[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (args.port >= 0) config.server.port = static_cast<uint16_t>(args.port);
  if (!args.bind.empty()) config.server.bind_address = args.bind;
  if (!args.instance.empty()) config.instance = args.instance;
  if (!args.events_topic.empty()) kafka_config.topics.events = args.events_topic;
  if (!args.memory_topic.empty()) config.memory_topic = args.memory_topic;
  if (!args.tls_cert.empty()) config.server.tls_cert = args.tls_cert;
  if (!args.tls_key.empty()) config.server.tls_key = args.tls_key;
  if (args.durable_bound_ms >= 0) {
    config.ack.durable_bound = std::chrono::milliseconds(args.durable_bound_ms);
  }

  kafka::IntakeOptions options;
  options.instance = config.instance;
  options.memory_topic = config.memory_topic;
  options.memory_retention = config.memory_retention;
  options.max_batch = config.max_batch;
  options.linger = config.linger;
  auto intake = kafka::Intake::open(kafka_config, options);
  if (!intake) {
    std::cerr << "samordna: " << intake.error().message << '\n';
    return intake.error().code == Errc::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  metrics::Registry registry;
  ListenerMetrics listener_metrics(registry, "hl7");
  IntakeStore store(*intake.value(), args.metrics_port > 0 ? &listener_metrics : nullptr);
  hl7::Acknowledger acknowledger(store, config.senders, config.ack);
  auto server = hl7::MllpServer::create(acknowledger, config.server);
  if (!server) {
    std::cerr << "samordna: " << server.error().message << '\n';
    return server.error().code == Errc::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  auto& srv = *server.value();
  std::unique_ptr<http::Server> metrics_server;
  if (args.metrics_port > 0) {
    add_hl7_counters(listener_metrics, acknowledger, srv);
    add_intake_counters(listener_metrics, *intake.value());
    auto started = start_metrics_server(registry, args.metrics_address,
                                        static_cast<uint16_t>(args.metrics_port),
                                        [&listener_metrics] { listener_metrics.refresh(); });
    if (!started) {
      std::cerr << "samordna: --metrics-port: " << started.error().message << '\n';
      return kExitFailure;
    }
    metrics_server = std::move(started).value();
  }
  const auto loaded = intake.value()->stats().memory_loaded;
  std::cerr << "hl7 listen: listening on " << config.server.bind_address << ":" << srv.port()
            << (config.server.tls_cert.empty() ? "" : " (TLS)") << ", intake instance "
            << config.instance << ", " << loaded << " remembered message(s)" << std::endl;

  // A fenced or otherwise dead intake ends the listener: every answer would be AE from now on.
  std::mutex m;
  std::condition_variable cv;
  bool served = false;
  std::thread watch([&] {
    std::unique_lock lock(m);
    while (!served) {
      cv.wait_for(lock, std::chrono::milliseconds(500));
      if (!served && intake.value()->fatal()) {
        srv.stop();
        return;
      }
    }
  });
  srv.run(/*signals=*/true);
  {
    std::lock_guard lock(m);
    served = true;
  }
  cv.notify_all();
  watch.join();
  // Every connection is answered and closed; commit what is still queued.
  intake.value()->close(std::chrono::milliseconds(10000));
  const auto& a = acknowledger.stats();
  const auto is = intake.value()->stats();
  std::cerr << "hl7 listen: stopped; messages " << a.messages << " accepted " << a.accepted
            << " (replayed " << a.replayed << ") errors " << a.errors << " rejected " << a.rejected
            << " (205: " << a.duplicates_205 << ") not confirmed " << a.not_confirmed << " events "
            << a.events << " transactions " << is.transactions << '\n';
  if (auto fatal = intake.value()->fatal()) {
    std::cerr << "samordna: " << fatal->message << '\n';
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

void add_hl7_commands(CLI::App& app, Commands& commands) {
  auto* hl7 = app.add_subcommand("hl7", "HL7 v2 feeds (connectors/hl7/README.md)");
  hl7->require_subcommand(1);
  auto args = std::make_shared<ParseArgs>();
  auto* parse = hl7->add_subcommand(
      "parse", "print the events an HL7 v2 message would produce, or the ACK it would get");
  parse->add_option("file", args->file, "one HL7 v2 message (ER7), without MLLP framing")
      ->required();
  parse->add_option("--config", args->config, "a sender's settings (YAML)");
  parse->add_flag("--ack", args->ack, "print the acknowledgement instead of the events");
  commands.emplace_back(parse, [args] { return run_parse(*args); });

  auto largs = std::make_shared<ListenArgs>();
  auto* listen = hl7->add_subcommand(
      "listen", "MLLP server: HL7 v2 in, acknowledged once the events are durable on Kafka");
  listen->add_option("--bootstrap", largs->bootstrap, "Kafka bootstrap servers, HOST:PORT[,...]");
  listen->add_option("--port", largs->port, "TCP port (default 2575; 0: any free port)");
  listen->add_option("--bind", largs->bind, "address to listen on (default 0.0.0.0)");
  listen->add_option("--config", largs->config,
                     "listener and sender settings (YAML; connectors/hl7/README.md)");
  listen->add_option("--kafka-config", largs->kafka_config,
                     "samordna service config whose kafka section is used (topics, TLS, SASL)");
  listen->add_option("--instance", largs->instance,
                     "stable name of this listener (transactional id; default hl7)");
  listen->add_option("--events-topic", largs->events_topic, "default samordna.events");
  listen->add_option("--memory-topic", largs->memory_topic,
                     "the intake's compacted memory (default samordna.intake.memory)");
  listen->add_option("--tls-cert", largs->tls_cert, "PEM certificate chain: serve MLLP over TLS");
  listen->add_option("--tls-key", largs->tls_key, "PEM private key of --tls-cert");
  listen->add_option("--durable-bound-ms", largs->durable_bound_ms,
                     "how long a message waits for durability before AE/CE (default 3000)");
  listen->add_option("-X", largs->properties, "librdkafka property key=value (repeatable)");
  listen->add_flag("-v,--verbose", largs->verbosity, "-v info, -vv debug");
  listen
      ->add_option("--metrics-port", largs->metrics_port,
                   "serve Prometheus metrics at /metrics on this port (default: none)")
      ->check(CLI::Range(1, 65535));
  listen->add_option("--metrics-address", largs->metrics_address,
                     "address of --metrics-port (default 127.0.0.1)");
  commands.emplace_back(listen, [largs] { return run_listen(*largs); });
}

}  // namespace samordna::app
