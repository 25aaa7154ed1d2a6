// samordna serve: the read model and the HTTP API (connectors/serve/README.md). Wires the Kafka
// consume loop (serve_kafka.h), the audit producer (kafka::RecordProducer), the publisher for
// acknowledgements, the API (connectors/serve/api.h) and the HTTP server (connectors/http).

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "connectors/http/server.h"
#include "connectors/kafka/admin.h"
#include "connectors/kafka/config.h"
#include "connectors/kafka/publisher.h"
#include "connectors/metrics/registry.h"
#include "connectors/serve/api.h"
#include "connectors/serve/client_certs.h"
#include "connectors/serve/key_reload.h"
#include "connectors/serve/live.h"
#include "connectors/serve/static.h"
#include "engine/app/commands.h"
#include "engine/app/metrics_http.h"
#include "engine/app/serve_kafka.h"

namespace samordna::app {
namespace {

// The API's route templates, registered on the router; each hands the request to Api::handle,
// which authenticates, authorises, audits and answers.
const std::vector<std::pair<std::string, std::string>> kRoutes = {
    {"GET", "/healthz"},
    {"GET", "/readyz"},
    {"GET", "/openapi.json"},
    {"GET", "/metrics"},
    {"GET", "/api/v1/notifications"},
    {"GET", "/api/v1/notifications/{ref}"},
    {"POST", "/api/v1/notifications/{ref}/ack"},
    {"GET", "/api/v1/episodes"},
    {"POST", "/api/v1/episodes/search"},
    {"GET", "/api/v1/episodes/{id}"},
    {"GET", "/api/v1/deadlines"},
    {"GET", "/api/v1/statistics/discharge-ready"},
    {"GET", "/api/v1/statistics/missed-deadlines"},
    {"GET", "/api/v1/statistics/payment-liability"},
    {"GET", "/api/v1/audit"},
    {"GET", "/api/v1/deliveries"},
    {"POST", serve::Api::kFhirAckRoute},
};

http::Response to_http(serve::HttpResponse r) {
  auto out = http::Response::with(r.status, r.content_type, std::move(r.body));
  for (auto& [k, v] : r.headers) out.set(k, v);
  return out;
}

serve::HttpRequest from_http(const http::Request& r) {
  serve::HttpRequest out;
  out.method = r.method;
  out.path = r.path;
  out.query = r.query;
  if (auto h = r.header("authorization")) out.authorization = std::string(*h);
  if (auto h = r.header("accept")) out.accept = std::string(*h);
  out.body = r.body;
  out.client_certificate_subject = r.tls_peer_subject;
  return out;
}

// The web app's folder when --web-dir is not given: the repository's web/ beside a build tree
// (build/engine/app/samordna), an installed share/samordna/web, or ./web.
std::optional<std::filesystem::path> default_web_dir() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) {
    candidates.push_back(exe.parent_path() / "../../../web");
    candidates.push_back(exe.parent_path() / "../share/samordna/web");
  }
  candidates.emplace_back("web");
  for (const auto& c : candidates) {
    if (fs::is_regular_file(c / "index.html", ec)) return fs::weakly_canonical(c, ec);
  }
  return std::nullopt;
}

int print_dump(const std::string& data_dir) {
  auto model = serve::ReadModel::open(data_dir);
  if (!model) {
    std::cerr << "samordna serve: " << model.error().message << '\n';
    return kExitFailure;
  }
  auto text = model.value()->dump();
  if (!text) {
    std::cerr << "samordna serve: " << text.error().message << '\n';
    return kExitFailure;
  }
  std::cout << text.value();
  return std::cout.flush() ? kExitOk : kExitFailure;
}

}  // namespace

void add_serve_command(CLI::App& app, Commands& commands) {
  struct Options {
    std::string bootstrap, data_dir, key_file, config_file, tls_cert, tls_key;
    std::string tls_client_ca, tls_client_map;
    std::string address = "127.0.0.1", issuer = "samordna", audience = "samordna-api";
    std::string audit_topic = "samordna.audit";
    std::string delivery_status_topic = "samordna.delivery.status";
    std::string web_dir;
    bool no_web = false;
    int port = 8080;
    int threads = 8;
    size_t read_batch = 2000;
    int partition_check_seconds = 30;
    int verbose = 0;
    bool dump = false;
    bool openapi = false;
    std::vector<std::string> properties;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "serve", "the read model (SQLite, built from Kafka) and the HTTP API per organisation");
  cmd->add_option("--bootstrap", o->bootstrap, "Kafka bootstrap servers H:P");
  cmd->add_option("--http-port", o->port, "HTTP port (default 8080; 0 picks a free one)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--http-address", o->address, "address to listen on (default 127.0.0.1)");
  cmd->add_option("--data-dir", o->data_dir, "the read model's directory (rebuilt if lost)");
  cmd->add_option("--auth-public-key", o->key_file,
                  "PEM public key (EC P-256 or RSA) or JWKS file the tokens are checked against");
  cmd->add_option("--auth-issuer", o->issuer, "the iss every token must carry (default samordna)");
  cmd->add_option("--auth-audience", o->audience,
                  "the aud every token must carry (default samordna-api)");
  cmd->add_option("--audit-topic", o->audit_topic, "the audit topic (default samordna.audit)");
  cmd->add_option("--delivery-status-topic", o->delivery_status_topic,
                  "samordna deliver's status topic, shown per notification (default "
                  "samordna.delivery.status; empty: none)");
  cmd->add_option("--config", o->config_file, "service config file (Kafka settings, topics)");
  cmd->add_option("-X", o->properties, "librdkafka property k=v (repeatable)");
  cmd->add_option("--tls-cert", o->tls_cert, "PEM certificate chain: serve HTTPS");
  cmd->add_option("--tls-key", o->tls_key, "PEM private key of --tls-cert");
  cmd->add_option("--tls-client-ca", o->tls_client_ca,
                  "PEM CA: ask for client certificates and verify them against it (mTLS)");
  cmd->add_option("--tls-client-map", o->tls_client_map,
                  "YAML file mapping client-certificate subjects to an organisation and role");
  cmd->add_option("--http-threads", o->threads, "HTTP server threads (default 8)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--read-batch", o->read_batch,
                  "records per read-model transaction (default 2000)")
      ->check(CLI::Range(size_t{1}, size_t{100000}));
  cmd->add_option("--partition-check-seconds", o->partition_check_seconds,
                  "how often to look for partitions added to the topics, read from their start "
                  "with no restart (default 30)")
      ->check(CLI::Range(1, 3600));
  cmd->add_option("--web-dir", o->web_dir,
                  "the web app's files, served at / (default: the repository's or installed web/)");
  cmd->add_flag("--no-web", o->no_web, "serve the API only, no web app");
  cmd->add_flag("-v", o->verbose, "log progress (-vv: debug)");
  cmd->add_flag(
      "--dump", o->dump,
      "print every row of the read model in --data-dir and exit (tests compare replicas)");
  cmd->add_flag("--openapi", o->openapi, "print the OpenAPI 3 document and exit");
  commands.emplace_back(cmd, [o]() -> int {
    if (o->openapi) {
      std::cout << serve::openapi_document() << '\n';
      return kExitOk;
    }
    if (o->dump) return print_dump(o->data_dir);
    if (o->verbose > 0)
      spdlog::set_level(o->verbose > 1 ? spdlog::level::debug : spdlog::level::info);
    if (o->key_file.empty() || o->data_dir.empty()) {
      std::cerr << "samordna serve: --data-dir and --auth-public-key are required\n";
      return kExitUsage;
    }
    if (o->tls_cert.empty() != o->tls_key.empty()) {
      std::cerr << "samordna serve: --tls-cert and --tls-key go together\n";
      return kExitUsage;
    }
    if ((!o->tls_client_ca.empty() || !o->tls_client_map.empty()) &&
        (o->tls_cert.empty() || o->tls_client_ca.empty() || o->tls_client_map.empty())) {
      std::cerr << "samordna serve: --tls-client-ca and --tls-client-map go together, with "
                   "--tls-cert\n";
      return kExitUsage;
    }
    std::optional<serve::ClientCertificateMap> client_map;
    if (!o->tls_client_map.empty()) {
      auto loaded = serve::ClientCertificateMap::from_file(o->tls_client_map);
      if (!loaded) {
        std::cerr << "samordna serve: --tls-client-map: " << loaded.error().message << '\n';
        return kExitUsage;
      }
      client_map = std::move(loaded).value();
    }
    // SIGHUP re-reads --auth-public-key (key rotation). Blocked here, before any thread starts,
    // so that every thread inherits the mask and only the reload thread below takes it.
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &hup, nullptr);
    kafka::ServiceConfig config;
    if (!o->config_file.empty()) {
      auto loaded = kafka::load_service_config(o->config_file);
      if (!loaded) {
        std::cerr << "samordna serve: " << loaded.error().message << '\n';
        return kExitUsage;
      }
      config = std::move(loaded).value();
    }
    if (!o->bootstrap.empty()) config.kafka.bootstrap = o->bootstrap;
    for (const auto& kv : o->properties) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos) {
        std::cerr << "samordna serve: -X expects key=value\n";
        return kExitUsage;
      }
      config.kafka.properties[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    auto verifier = serve::Verifier::from_file(o->key_file, {o->issuer, o->audience});
    if (!verifier) {
      std::cerr << "samordna serve: --auth-public-key: " << verifier.error().message << '\n';
      return kExitUsage;
    }
    const serve::TopicNames topics{config.kafka.topics.episodes, config.kafka.topics.notifications,
                                   o->audit_topic, o->delivery_status_topic};
    auto model = serve::ReadModel::open(o->data_dir, topics);
    if (!model) {
      std::cerr << "samordna serve: " << model.error().message << '\n';
      return kExitFailure;
    }
    if (!model.value()->rebuilt_reason().empty()) {
      spdlog::warn("serve: {}", model.value()->rebuilt_reason());
    }
    constexpr auto kAdminTimeout = std::chrono::seconds{15};
    if (config.kafka.create_topics) {
      auto ensured = kafka::ensure_topics(config.kafka, kAdminTimeout);
      if (ensured) {
        std::vector<kafka::TopicSpec> own = {
            // The audit log is kept, not aged out (Patientdatalagen 4 kap. 3 §: access logs are
            // followed up for years): every replica's audit table is rebuilt from it.
            kafka::TopicSpec{
                o->audit_topic, config.kafka.partitions, false, {{"retention.ms", "-1"}}}};
        // deliver's status topic, compacted as deliver makes it, so serve may start first.
        if (!o->delivery_status_topic.empty()) {
          own.push_back(kafka::TopicSpec{o->delivery_status_topic, config.kafka.partitions, true});
        }
        ensured = kafka::create_topics(config.kafka, own, kAdminTimeout);
      }
      if (!ensured) {
        std::cerr << "samordna serve: " << ensured.error().message << '\n';
        return kExitFailure;
      }
    }
    auto publisher = kafka::Publisher::create(config.kafka, config.kafka.topics.events);
    auto audit =
        kafka::RecordProducer::create(config.kafka, o->audit_topic, std::chrono::seconds{5});
    if (!publisher || !audit) {
      std::cerr << "samordna serve: "
                << (!publisher ? publisher.error().message : audit.error().message) << '\n';
      return kExitUsage;
    }
    ReadModelFeed::Options feed_options;
    feed_options.max_batch = o->read_batch;
    feed_options.partition_check_ms = o->partition_check_seconds * 1000;
    auto feed = ReadModelFeed::start(config.kafka, *model.value(), feed_options);
    if (!feed) {
      std::cerr << "samordna serve: " << feed.error().message << '\n';
      return kExitFailure;
    }

    serve::ApiHooks hooks;
    hooks.audit = [a = audit.value().get()](const std::string& k, const std::string& v) {
      return a->write(k, v);
    };
    hooks.publish = [p = publisher.value().get()](const v1::Event& e) -> Result<void> {
      auto outcome = p->publish_and_wait({e}, std::chrono::seconds{5});
      if (outcome.durable()) return ok();
      return fail(Errc::kUnavailable, outcome.error ? outcome.error->message : "not durable");
    };
    hooks.status = [f = feed.value().get()] { return f->status(); };
    if (client_map) {
      hooks.client_certificate = [&client_map](const std::string& subject) {
        return client_map->principal(subject);
      };
    }
    // GET /metrics behind the operator role: HTTP requests by route and status (the server's
    // observer), and the read model's lag and readiness, read when scraped.
    metrics::Registry registry;
    auto& lag = registry.gauge(
        "samordna_read_model_lag_records",
        "Records of the episodes, notifications, audit and delivery status topics not yet in "
        "the read model (-1 unknown)");
    auto& ready = registry.gauge("samordna_read_model_ready",
                                 "1 once every partition was consumed to its end since start");
    hooks.metrics = [&registry, &lag, &ready, f = feed.value().get()] {
      const auto status = f->status();
      lag.labels({}).set(static_cast<double>(status.lag));
      ready.labels({}).set(status.ready ? 1 : 0);
      return registry.render();
    };
    SystemClock clock;
    serve::Api api(*model.value(), verifier.value(), clock, std::move(hooks));

    // The web app (web/README.md): its files, each under its own route, so nothing outside the
    // folder is reachable; and the live stream it listens to.
    std::optional<serve::StaticFiles> web;
    if (!o->no_web) {
      auto dir =
          o->web_dir.empty() ? default_web_dir() : std::optional<std::filesystem::path>(o->web_dir);
      if (!dir && !o->web_dir.empty()) return kExitUsage;
      if (dir) {
        auto loaded = serve::StaticFiles::load(*dir);
        if (!loaded) {
          std::cerr << "samordna serve: " << loaded.error().message << '\n';
          return kExitUsage;
        }
        web = std::move(loaded).value();
      } else {
        std::cerr << "samordna serve: no web/ folder found: the API only (--web-dir DIR)\n";
      }
    }
    serve::LiveHub live(*model.value(), verifier.value(), clock);

    http::Router router;
    for (const auto& [method, templ] : kRoutes) {
      router.add(method, templ,
                 [&api](const http::Request& r) { return to_http(api.handle(from_http(r))); });
    }
    router.add("GET", "/api/v1/session", [&verifier, &clock](const http::Request& r) {
      return to_http(serve::session_answer(from_http(r), verifier.value(), clock.now()));
    });
    router.add_async("GET", serve::LiveHub::kRoute,
                     [&live](http::Request r, http::Responder responder) {
                       live.handle(from_http(r), [responder](serve::HttpResponse answer) {
                         responder(to_http(std::move(answer)));
                       });
                     });
    if (web) {
      for (const auto& path : web->paths()) {
        router.add("GET", path, [&web](const http::Request& r) {
          const auto etag = r.header("if-none-match");
          return to_http(web->get(r.path, etag ? *etag : std::string_view{}));
        });
      }
    }
    router.set_error_formatter("", [](const http::ServerError& e) {
      return http::Response::with(e.status, "application/json",
                                  std::string(R"({"error":")") + std::string(e.code) + R"("})");
    });
    http::ServerOptions options;
    options.address = o->address;
    options.port = static_cast<uint16_t>(o->port);
    options.threads = o->threads;
    options.stop_on_signals = true;
    // With a client CA, a certificate is asked for but not required: callers with a token need
    // none.
    if (!o->tls_cert.empty()) {
      options.tls = http::TlsOptions{o->tls_cert, o->tls_key, o->tls_client_ca, false};
    }
    auto server = http::Server::start(options, std::move(router), http_metrics_observer(registry));
    if (!server) {
      std::cerr << "samordna serve: " << server.error().message << '\n';
      return kExitFailure;
    }
    // The port on stderr, for scripts that asked for port 0.
    std::cerr << "samordna serve: listening on " << o->address << ":" << server.value()->port()
              << (o->tls_cert.empty() ? " (http)" : " (https)") << std::endl;

    // A read model that failed cannot be trusted to be complete: stop, so that a restart resumes
    // from the stored offsets.
    std::atomic<bool> done{false};
    std::thread watchdog([&] {
      while (!done.load()) {
        if (feed.value()->failure()) {
          server.value()->stop();
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{200});
      }
    });
    // Key rotation: on SIGHUP, and when the key file changes (a JWKS refreshed by a cron job, a
    // mounted secret), the keys are read again; a file that does not load keeps the old keys.
    serve::KeyFileReloader reloader(verifier.value(), o->key_file, {o->issuer, o->audience});
    std::thread key_reload([&] {
      while (!done.load()) {
        const timespec wait{0, 500'000'000};
        const bool signalled = sigtimedwait(&hup, nullptr, &wait) == SIGHUP;
        if (!signalled && !reloader.changed()) continue;
        auto reloaded = reloader.reload();
        if (reloaded) {
          spdlog::info("serve: {} key(s) loaded from --auth-public-key ({})", reloaded.value(),
                       signalled ? "SIGHUP" : "the file changed");
        } else {
          spdlog::error("serve: --auth-public-key not reloaded, the old keys stay: {}",
                        reloaded.error().message);
        }
      }
    });
    server.value()->wait();
    live.stop();
    done = true;
    watchdog.join();
    key_reload.join();
    feed.value()->stop();
    publisher.value()->close(std::chrono::seconds{5});
    if (auto f = feed.value()->failure()) {
      std::cerr << "samordna serve: " << f->message << '\n';
      return kExitFailure;
    }
    return kExitOk;
  });
}

}  // namespace samordna::app
