// deliver_bench: `samordna deliver` against a local HTTPS receiver (connectors/http with a
// throw-away CA), beside the HTTP client's own raw request rate to the same receiver in the same
// run (README.md, "samordna deliver").
//
//   deliver_bench --samordna build/engine/app/samordna --bootstrap 127.0.0.1:19092 [--count 5000]
//
// 1. raw: HttpsClient POSTs of a notification-sized body, 1 and 4 threads (deliver's default
//    concurrency per endpoint is 4), requests per second.
// 2. backlog: --count notifications (over 200 episodes) produced first, then deliver started;
//    deliveries per second from its start to the last first arrival.
// 3. latency: deliver running and idle, notifications produced at --rate per second; per
//    notification the time from the broker's acknowledgement of the produce to its first arrival
//    at the receiver, p50 / p99.
// Prints one line per figure; nothing asserted. Topics are its own (bench-deliver-<pid>-*) and
// deleted at the end.

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "connectors/deliver/https_client.h"
#include "connectors/deliver/service.h"
#include "connectors/deliver/signature.h"
#include "connectors/http/server.h"
#include "connectors/kafka/admin.h"
#include "connectors/kafka/client.h"
#include "samordna/v1/notification.pb.h"
#include "tests/integration/kafka_fixture.h"

using namespace samordna;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Receiver {
  std::mutex mu;
  std::map<std::string, Clock::time_point> first;  // webhook-id -> first arrival
  std::atomic<uint64_t> requests{0};
};

v1::Notification notification(int i, int episodes) {
  v1::Notification n;
  const std::string episode = "bench-ep-" + std::to_string(i % episodes);
  n.set_notification_id(episode + "/" + std::to_string(i));
  n.set_episode_id(episode);
  n.mutable_issued_at()->set_seconds(1741593600 + i);
  auto* o = n.add_addressees();
  o->set_kind(v1::Organisation::MUNICIPALITY);
  o->set_id("0180");
  auto* a = n.mutable_admission_notice();
  a->set_care_unit("SE2321000016-15CQ");
  a->mutable_recipient()->set_unit("0180");
  a->mutable_patient()->set_personal_id("191212121212");
  a->mutable_patient()->set_name("Tolvan Tolvansson");
  a->mutable_patient()->set_address("Storgatan 1, 111 22 Stockholm");
  a->mutable_admitted_at()->set_seconds(1741590000);
  return n;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  std::string samordna_bin, bootstrap = "127.0.0.1:19092";
  int count = 5000, rate = 200, latency_count = 1000;
  CLI::App app{"deliver_bench"};
  app.add_option("--samordna", samordna_bin, "the samordna binary")->required();
  app.add_option("--bootstrap", bootstrap, "Kafka bootstrap");
  app.add_option("--count", count, "notifications in the backlog phase (default 5000)");
  app.add_option("--rate", rate, "notifications per second in the latency phase (default 200)");
  app.add_option("--latency-count", latency_count, "notifications in the latency phase");
  CLI11_PARSE(app, argc, argv);

  kafka_test::TempDir dir("samordna-deliver-bench");
  const auto d = dir.path();
  if (std::system(("bash " SAMORDNA_SOURCE_DIR "/tests/unit/http/make_test_ca.sh " + d.string() +
                   " >/dev/null")
                      .c_str()) != 0)
    return 1;
  const std::string secret = "whsec_" + deliver::base64_encode(std::string(32, 'b'));
  kafka_test::write_file(d / "s", secret);

  Receiver rx;
  http::Router router;
  router.add("POST", "/hook", [&rx](const http::Request& r) {
    rx.requests.fetch_add(1);
    const auto now = Clock::now();
    if (auto id = r.header("webhook-id")) {
      std::lock_guard lock(rx.mu);
      rx.first.emplace(std::string(*id), now);
    }
    return http::Response::with(204, "text/plain", "");
  });
  http::ServerOptions so;
  so.tls = http::TlsOptions{(d / "server.pem").string(), (d / "server.key").string(), "", false};
  so.threads = 4;
  auto server = http::Server::start(std::move(so), std::move(router));
  if (!server) {
    std::cerr << server.error().message << '\n';
    return 1;
  }
  const uint16_t port = server.value()->port();

  // 1. raw
  std::string body;
  body = *deliver::render_body(deliver::EndpointConfig{}, notification(0, 1));
  for (int threads : {1, 4}) {
    const int per_thread = std::max(1, count / 4 / threads);
    const auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        deliver::ClientOptions o;
        o.ca_file = (d / "ca.pem").string();
        auto c = deliver::HttpsClient::create(o).value();
        const auto key = deliver::parse_secret(secret).value();
        for (int i = 0; i < per_thread; ++i) {
          const std::string id = "raw-" + std::to_string(t) + "-" + std::to_string(i);
          const int64_t ts_unix = std::time(nullptr);
          c->post({"127.0.0.1", port, "/hook", true},
                  {{"Content-Type", "application/json"},
                   {"webhook-id", id},
                   {"webhook-timestamp", std::to_string(ts_unix)},
                   {"webhook-signature", deliver::signature_header({key}, id, ts_unix, body)}},
                  body, ts_unix);
        }
      });
    }
    for (auto& t : ts) t.join();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("raw https client, %d thread(s): %d requests in %.2f s = %.0f requests/s\n",
                threads, per_thread * threads, s, per_thread * threads / s);
  }

  // 2. backlog
  const std::string prefix = "bench-deliver-" + std::to_string(::getpid());
  kafka::KafkaConfig kc;
  kc.bootstrap = bootstrap;
  const std::vector<std::string> topics = {prefix + "-notifications", prefix + "-status",
                                           prefix + "-deadletter", prefix + "-replay"};
  if (auto r = kafka::create_topics(
          kc, {{topics[0], 4}, {topics[1], 4, true}, {topics[2], 4}, {topics[3], 1}}, 15s);
      !r) {
    std::cerr << r.error().message << '\n';
    return 1;
  }
  const auto config = kafka_test::write_file(
      d / "deliver.yaml", "topics:\n  notifications: " + topics[0] + "\n  status: " + topics[1] +
                              "\n  deadletter: " + topics[2] + "\n  replay: " + topics[3] +
                              "\nendpoints:\n  - name: bench\n    organisation: municipality:0180\n"
                              "    host: 127.0.0.1\n    port: " +
                              std::to_string(port) +
                              "\n    path: /hook\n    secretFiles: [s]\n    caFile: ca.pem\n");
  std::vector<kafka_test::Record> records;
  for (int i = 0; i < count; ++i) {
    kafka_test::Record r;
    r.topic = topics[0];
    auto n = notification(i, 200);
    r.key = n.episode_id();
    r.value = n.SerializeAsString();
    records.push_back(std::move(r));
  }
  if (!kafka_test::produce_records(bootstrap, records)) return 1;
  {
    std::lock_guard lock(rx.mu);
    rx.first.clear();
  }
  const std::vector<std::string> args = {
      samordna_bin,  "deliver", "--config",   config.string(),
      "--bootstrap", bootstrap, "--data-dir", (d / "data").string()};
  auto deliver = kafka_test::Process::start(args);
  const auto t0 = Clock::now();
  const auto arrived = [&](const std::string& pfx) {
    std::lock_guard lock(rx.mu);
    size_t n = 0;
    for (const auto& [id, at] : rx.first) n += id.rfind(pfx, 0) == 0;
    return n;
  };
  kafka_test::wait_until([&] { return arrived("bench-ep-") >= static_cast<size_t>(count); }, 600s,
                         20ms);
  Clock::time_point last = t0;
  {
    std::lock_guard lock(rx.mu);
    for (const auto& [id, at] : rx.first) last = std::max(last, at);
  }
  const double s = std::chrono::duration<double>(last - t0).count();
  std::printf("deliver backlog: %zu of %d delivered in %.2f s (from process start) = %.0f/s\n",
              arrived("bench-ep-"), count, s, static_cast<double>(count) / s);

  // 3. latency: one producer; the time of each record's acknowledgement is its commit.
  std::vector<double> lat;
  std::map<std::string, Clock::time_point> sent;
  struct Acks : RdKafka::DeliveryReportCb {
    std::map<std::string, Clock::time_point>* sent = nullptr;
    void dr_cb(RdKafka::Message& m) override {
      if (m.err() == RdKafka::ERR_NO_ERROR && m.key() != nullptr) (*sent)[*m.key()] = Clock::now();
    }
  } acks;
  acks.sent = &sent;
  auto producer = kafka::make_idempotent_producer(kc, {{"linger.ms", "0"}}, &acks);
  if (!producer) return 1;
  const auto gap = std::chrono::microseconds(1'000'000 / std::max(1, rate));
  auto next = Clock::now();
  for (int i = 0; i < latency_count; ++i) {
    auto n = notification(count + i, 50);
    n.set_notification_id("lat-" + std::to_string(i));
    n.set_episode_id("lat-ep-" + std::to_string(i));
    const std::string value = n.SerializeAsString();

    const std::string key = n.notification_id();
    producer.value()->produce(topics[0], RdKafka::Topic::PARTITION_UA,
                              RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
                              value.size(), key.data(), key.size(), 0, nullptr);
    next += gap;
    while (Clock::now() < next) producer.value()->poll(1);
  }
  producer.value()->flush(30000);
  kafka_test::wait_until([&] { return arrived("lat-") >= static_cast<size_t>(latency_count); },
                         120s, 20ms);
  {
    std::lock_guard lock(rx.mu);
    for (const auto& [id, at] : sent) {
      auto it = rx.first.find(id);
      if (it != rx.first.end())
        lat.push_back(std::chrono::duration<double, std::milli>(it->second - at).count());
    }
  }
  std::printf(
      "deliver latency at %d/s (one producer, acks=all): %zu delivered, "
      "commit to delivery p50 %.1f ms, p99 %.1f ms\n",
      rate, lat.size(), percentile(lat, 0.5), percentile(lat, 0.99));
  deliver.signal(SIGTERM);
  deliver.wait(30s);
  (void)kafka::delete_topics(kc, topics, 15s);
  return 0;
}
