// samordna fhir parse FILE [--config F] [--outcome]: the integrator's dry run. Prints, as JSON
// lines, the events one FHIR resource (an Encounter, or a transaction/batch Bundle) would produce,
// or the OperationOutcome it would get. Exit 0 when it would be taken, 1 when refused.
//
// samordna fhir listen --bootstrap H:P --port N [--config F] ...: the FHIR R4 listener (base /fhir)
// and POST /events (plain samordna.v1.Event JSON), on the shared HTTP server; every 2xx only after
// the publisher confirmed the events durable (connectors/fhir/README.md).

#include <spdlog/spdlog.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "connectors/fhir/listener.h"
#include "connectors/fhir/outcome.h"
#include "connectors/fhir/sender_config.h"
#include "connectors/http/server.h"
#include "connectors/kafka/admin.h"
#include "connectors/kafka/config.h"
#include "connectors/kafka/intake.h"
#include "connectors/kafka/publisher.h"
#include "engine/app/commands.h"
#include "engine/app/listener_metrics.h"
#include "engine/app/metrics_http.h"
#include "engine/core/json_codec.h"
#include "engine/core/json_error.h"
#include "engine/state/episode_machine.h"

namespace samordna::app {
namespace {

using std::chrono::milliseconds;

struct ParseArgs {
  std::string file;
  std::string config;
  bool outcome = false;
};

std::optional<fhir::SenderTable> sender_table(const std::string& path, int& status) {
  fhir::SenderTable table;
  if (path.empty()) return table;
  auto loaded = fhir::load_sender_table(path);
  if (!loaded) {
    std::cerr << "samordna: " << loaded.error().message << '\n';
    status = kExitUsage;
    return std::nullopt;
  }
  return std::move(loaded).value();
}

int run_parse(const ParseArgs& args) {
  int status = kExitOk;
  auto table = sender_table(args.config, status);
  if (!table) return status;
  std::ifstream in(args.file, std::ios::binary);
  if (!in) {
    std::cerr << "samordna: cannot read " << args.file << '\n';
    return kExitFailure;
  }
  // At most one byte past the largest bound: a huge file is refused, not loaded.
  size_t max_bytes = table->defaults.max_resource_bytes;
  for (const auto& o : table->senders) max_bytes = std::max(max_bytes, o.config.max_resource_bytes);
  std::string bytes;
  bytes.resize(max_bytes + 1);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  // The dry run has no client certificate: the sender is the one meta.source names, if any.
  const fhir::SenderConfig* config = &table->select(std::nullopt, fhir::meta_source(bytes));
  if (bytes.size() > config->max_resource_bytes) bytes.resize(config->max_resource_bytes + 1);

  fhir::Mapped mapped = fhir::map_any(bytes, *config);
  size_t events = 0;
  bool refused_entry = false;
  for (const auto& r : mapped.encounters) {
    events += r.events.size();
    refused_entry = refused_entry || r.status >= 300;
  }
  const bool bundle = mapped.kind != fhir::Mapped::Kind::kEncounter;
  if (!mapped.ok()) {
    std::vector<fhir::Issue> issues = mapped.issues;
    if (issues.empty() && !mapped.encounters.empty()) issues = mapped.encounters.front().issues;
    std::cout << fhir::operation_outcome(issues) << '\n';
    std::cerr << "fhir parse: refused, " << mapped.status << '\n';
    return kExitRejected;
  }
  if (args.outcome) {
    std::vector<size_t> all;
    for (const auto& r : mapped.encounters) all.push_back(r.events.size());
    if (bundle) {
      std::cout << fhir::bundle_response(mapped, all) << '\n';
    } else {
      std::cout << fhir::operation_outcome(mapped.encounters.front().issues) << '\n';
    }
  } else {
    JsonCodec codec;
    for (const auto& r : mapped.encounters) {
      for (const auto& e : r.events) {
        std::string line;
        codec.print(e, line);
        std::cout << line << '\n';
      }
      if (r.status >= 300) std::cout << fhir::operation_outcome(r.issues) << '\n';
    }
  }
  std::cerr << "fhir parse: " << (refused_entry ? "partly refused" : "taken") << ", " << events
            << " event(s)\n";
  return refused_entry ? kExitRejected : kExitOk;
}

// --- listen --------------------------------------------------------------------------------------

struct ListenArgs {
  std::string bootstrap;
  std::string kafka_config;
  std::vector<std::string> properties;
  std::string topic;
  std::string config;
  std::string address = "127.0.0.1";
  uint16_t port = 8080;
  int threads = 2;
  int publish_timeout_ms = 3000;
  std::string instance = "fhir";
  std::string memory_topic = "samordna.intake.memory";
  std::string tls_cert, tls_key, tls_client_ca;
  bool require_client_cert = false;
  size_t max_connections = 512;
  int metrics_port = 0;  // 0: no /metrics
  std::string metrics_address = "127.0.0.1";
};

constexpr const char* kFhirJson = "application/fhir+json; charset=utf-8";

http::Response events_error(int status, std::string code, std::string text) {
  return http::Response::with(status, kFhirJson,
                              fhir::operation_outcome({fhir::Issue::Severity::kError,
                                                       std::move(code), std::move(text), ""}));
}

// POST /events: one samordna.v1.Event JSON object, or JSON lines of them. Validated as the engine
// validates (so a sender learns of a malformed event now, not from the dead-letter topic), then
// published as one batch.
void post_events(const http::Request& req, const http::Responder& respond,
                 const fhir::InProcessStore::Publish& publish, int retry_after) {
  thread_local JsonCodec codec;
  std::vector<v1::Event> events;
  std::istringstream in(req.body);
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    v1::Event e;
    std::string message;
    if (!codec.parse(line, e, message)) {
      respond(events_error(
          400, "structure",
          "line " + std::to_string(line_no) + ": " + describe_json_error(line, message)));
      return;
    }
    if (auto bad = state::validate_event(e)) {
      respond(events_error(400, "invalid", "line " + std::to_string(line_no) + ": " + bad->reason));
      return;
    }
    events.push_back(std::move(e));
  }
  if (events.empty()) {
    respond(events_error(400, "required", "no event in the body"));
    return;
  }
  const size_t n = events.size();
  publish(std::move(events), [respond, n, retry_after](bool durable) {
    if (!durable) {
      http::Response res = events_error(
          503, "transient", "the events could not be made durable in time; send the request again");
      res.set("Retry-After", std::to_string(retry_after));
      respond(std::move(res));
      return;
    }
    respond(http::Response::with(
        200, kFhirJson,
        fhir::operation_outcome({fhir::Issue::Severity::kInformation, "informational",
                                 std::to_string(n) + " event(s) published", ""})));
  });
}

// The encounter memory on Kafka: each request's new events and its episodes' new memory records
// ("fhir/<sender>/<episode>" -> the event ids made; the listener names each record by
// fhir::memory_key, "<sender>/<episode>") in one intake transaction, so after any crash the memory
// says exactly which events are on the topic (connectors/kafka/intake.h).
class IntakeStore : public fhir::SnapshotStore {
 public:
  // `metrics` (optional) times each commit until its answer.
  IntakeStore(kafka::Intake& intake, milliseconds bound, ListenerMetrics* metrics)
      : intake_(intake), prefix_("fhir/"), bound_(bound), metrics_(metrics) {}

  fhir::Snapshot known(const std::string& episode_id) const override {
    auto recalled = intake_.recall(prefix_ + episode_id);
    if (!recalled) return {};
    return {fhir::decode_snapshot(recalled->value), recalled->value};
  }

  void commit(std::vector<v1::Event> events, std::vector<fhir::SnapshotUpdate> updates,
              std::function<void(Status)> done) override {
    kafka::Submission s;
    s.events = std::move(events);
    for (size_t i = 0; i < updates.size(); ++i) {
      kafka::IntakeRecord record{prefix_ + updates[i].episode_id,
                                 fhir::encode_snapshot(updates[i].ids)};
      if (i == 0) {
        // Compare-and-set on the first episode (a single-encounter request has only it).
        s.memory = std::move(record);
        s.when = updates[i].previous.stored
                     ? kafka::Precondition::equals(*updates[i].previous.stored)
                     : kafka::Precondition::absent();
      } else {
        s.more.push_back(std::move(record));
      }
    }
    intake_.submit(std::move(s), kafka::Intake::Clock::now() + bound_,
                   [done = std::move(done), m = metrics_,
                    start = kafka::Intake::Clock::now()](kafka::IntakeOutcome outcome) {
                     if (m) {
                       m->observe_intake(kafka::intake_status_name(outcome.status),
                                         kafka::Intake::Clock::now() - start);
                     }
                     using S = kafka::IntakeOutcome::Status;
                     done(outcome.status == S::kDurable    ? Status::kDurable
                          : outcome.status == S::kConflict ? Status::kConflict
                                                           : Status::kUnavailable);
                   });
  }

 private:
  kafka::Intake& intake_;
  std::string prefix_;
  milliseconds bound_;
  ListenerMetrics* metrics_;
};

int run_listen(const ListenArgs& args) {
  int status = kExitOk;
  auto senders = sender_table(args.config, status);
  if (!senders) return status;
  kafka::KafkaConfig kconfig;
  if (!args.kafka_config.empty()) {
    auto loaded = kafka::load_service_config(args.kafka_config);
    if (!loaded) {
      std::cerr << "samordna: " << loaded.error().message << '\n';
      return kExitUsage;
    }
    kconfig = loaded.value().kafka;
  }
  if (!args.bootstrap.empty()) kconfig.bootstrap = args.bootstrap;
  if (!args.topic.empty()) kconfig.topics.events = args.topic;
  const std::string topic = kconfig.topics.events;  // the intake's and /events' topic
  kafka::Properties properties;
  for (const auto& spec : args.properties) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "samordna: -X expects key=value (a librdkafka property)\n";
      return kExitUsage;
    }
    properties[spec.substr(0, eq)] = spec.substr(eq + 1);
  }
  // The events topic must exist before the first request, so that a missing topic is a start-up
  // error and not a 503 on every request.
  if (auto made =
          kafka::create_topics(kconfig, {{topic, kconfig.partitions, false}}, milliseconds(10000));
      !made) {
    std::cerr << "samordna: " << made.error().message << '\n';
    return made.error().code == Errc::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  auto publisher = kafka::Publisher::create(kconfig, topic, properties);
  if (!publisher) {
    std::cerr << "samordna: " << publisher.error().message << '\n';
    return kExitUsage;
  }
  kafka::Publisher* pub = publisher.value().get();
  const milliseconds bound(args.publish_timeout_ms);
  metrics::Registry registry;
  ListenerMetrics listener_metrics(registry, "fhir");
  ListenerMetrics* lm = args.metrics_port > 0 ? &listener_metrics : nullptr;
  // POST /events goes through the publisher, not the intake: timed under the same histogram.
  fhir::InProcessStore::Publish publish = [pub, bound, lm](std::vector<v1::Event> events,
                                                           std::function<void(bool)> done) {
    pub->publish(std::move(events), kafka::Publisher::Clock::now() + bound,
                 [done = std::move(done), lm,
                  start = kafka::Publisher::Clock::now()](kafka::PublishOutcome outcome) {
                   if (lm) {
                     lm->observe_intake(outcome.durable() ? "durable" : "failed",
                                        kafka::Publisher::Clock::now() - start);
                   }
                   done(outcome.durable());
                 });
  };

  kafka::IntakeOptions io;
  io.instance = args.instance;
  io.memory_topic = args.memory_topic;
  io.extra = properties;
  auto intake = kafka::Intake::open(kconfig, io);
  if (!intake) {
    std::cerr << "samordna: " << intake.error().message << '\n';
    return intake.error().code == Errc::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  IntakeStore store(*intake.value(), bound, lm);
  fhir::ListenerOptions options;
  options.senders = std::move(*senders);
  http::Router router;
  fhir::add_routes(router, options, store);
  const int retry_after = options.retry_after_seconds;
  router.add_async("POST", "/events",
                   [publish, retry_after](http::Request req, http::Responder respond) {
                     post_events(req, respond, publish, retry_after);
                   },
                   {.max_body_bytes = 4 * 1024 * 1024});
  router.set_error_formatter("", fhir::error_response);

  http::ServerOptions so;
  so.address = args.address;
  so.port = args.port;
  so.threads = args.threads;
  so.max_connections = args.max_connections;
  so.stop_on_signals = true;
  if (!args.tls_cert.empty() || !args.tls_key.empty()) {
    so.tls =
        http::TlsOptions{args.tls_cert, args.tls_key, args.tls_client_ca, args.require_client_cert};
  }
  // With --metrics-port, the listener's requests count in samordna_http_requests_total by route
  // and status (the FHIR outcome: 200/201, 400/422 refused, 409 conflict, 503 not durable).
  http::Observer observer = lm ? http_metrics_observer(registry) : http::Observer{};
  auto server = http::Server::start(so, std::move(router), observer);
  if (!server) {
    std::cerr << "samordna: " << server.error().message << '\n';
    return server.error().code == Errc::kInvalidArgument ? kExitUsage : kExitFailure;
  }
  std::unique_ptr<http::Server> metrics_server;
  if (lm) {
    add_intake_counters(listener_metrics, *intake.value());
    http::Server* listener = server.value().get();
    listener_metrics.add_gauge(
        "samordna_fhir_connections_open", "HTTP connections open on the listener now",
        [listener] { return static_cast<double>(listener->open_connections()); });
    auto started = start_metrics_server(
        registry, args.metrics_address, static_cast<uint16_t>(args.metrics_port),
        [&listener_metrics] { listener_metrics.refresh(); }, observer);
    if (!started) {
      std::cerr << "samordna: --metrics-port: " << started.error().message << '\n';
      return kExitFailure;
    }
    metrics_server = std::move(started).value();
  }
  // The one line a script waits for (the port, when --port 0 chose one).
  std::cout << "fhir listen: " << args.address << ":" << server.value()->port() << std::endl;
  spdlog::info("fhir listen: serving on port {}, events to {}", server.value()->port(), topic);
  server.value()->wait();
  intake.value()->close(bound);
  pub->close(bound);
  std::cerr << "fhir listen: stopped" << std::endl;
  return kExitOk;
}

}  // namespace

void add_fhir_commands(CLI::App& app, Commands& commands) {
  auto* fhir = app.add_subcommand("fhir", "FHIR R4 feeds (connectors/fhir/README.md)");
  fhir->require_subcommand(1);

  auto pargs = std::make_shared<ParseArgs>();
  auto* parse = fhir->add_subcommand(
      "parse",
      "print the events a FHIR Encounter or Bundle would produce, or its OperationOutcome");
  parse->add_option("file", pargs->file, "one FHIR R4 JSON resource (Encounter or Bundle)")
      ->required();
  parse->add_option("--config", pargs->config, "the senders' settings (YAML: defaults, senders:)");
  parse->add_flag("--outcome", pargs->outcome,
                  "print the answer the listener would give instead of the events");
  commands.emplace_back(parse, [pargs] { return run_parse(*pargs); });

  auto largs = std::make_shared<ListenArgs>();
  auto* listen = fhir->add_subcommand(
      "listen", "the FHIR R4 listener (base /fhir) and POST /events, answering once durable");
  listen->add_option("--bootstrap", largs->bootstrap, "Kafka bootstrap servers HOST:PORT[,...]");
  listen->add_option("--kafka-config", largs->kafka_config,
                     "samordna config file (kafka: section, topics)");
  listen->add_option("-X", largs->properties, "librdkafka property key=value (repeatable)");
  listen->add_option("--topic", largs->topic, "events topic (default: the config's)");
  listen->add_option("--config", largs->config, "the senders' settings (YAML: defaults, senders:)");
  listen->add_option("--instance", largs->instance,
                     "names this listener for Kafka transactions; stable across restarts, one "
                     "live process per name (default fhir)");
  listen->add_option("--memory-topic", largs->memory_topic,
                     "compacted topic of the encounter memory (default samordna.intake.memory)");
  listen->add_option("--address", largs->address, "address to listen on (default 127.0.0.1)");
  listen->add_option("--port", largs->port, "port (0: any free one, printed)")->required();
  listen->add_option("--threads", largs->threads, "server threads (default 2)");
  listen->add_option("--publish-timeout-ms", largs->publish_timeout_ms,
                     "how long a request waits for Kafka before 503 (default 3000)");
  listen->add_option("--max-connections", largs->max_connections, "default 512");
  listen->add_option("--tls-cert", largs->tls_cert, "PEM certificate chain (enables TLS)");
  listen->add_option("--tls-key", largs->tls_key, "PEM private key");
  listen->add_option("--tls-client-ca", largs->tls_client_ca,
                     "CA (PEM) client certificates are verified against");
  listen->add_flag("--require-client-cert", largs->require_client_cert,
                   "refuse clients without a certificate");
  listen
      ->add_option("--metrics-port", largs->metrics_port,
                   "serve Prometheus metrics at /metrics on this port (default: none)")
      ->check(CLI::Range(1, 65535));
  listen->add_option("--metrics-address", largs->metrics_address,
                     "address of --metrics-port (default 127.0.0.1)");
  commands.emplace_back(listen, [largs] { return run_listen(*largs); });
}

}  // namespace samordna::app
