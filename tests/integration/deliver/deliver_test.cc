// `samordna deliver` against the real broker and a real HTTPS receiver (receiver.py: Python's
// ssl and hmac, independent of our signing code) that fails at random: 500, 503, 429 with
// Retry-After, dropped connections, answers slower than deliver's timeout. deliver is SIGKILLed
// several times on the way. Then: every notification addressed to a configured endpoint arrived,
// every signature verified (with the new secret of a rotation), per episode the first arrivals
// are in the order of the topic, the fhir endpoint got Bundles of the kinds it asked for, a 410
// disabled its endpoint (the others went on) until `deliver replay --enable-endpoint`, a 400 was
// dead-lettered (status and dead-letter topics) and `deliver replay --notification` sent it again.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <map>
#include <set>

#include "connectors/deliver/signature.h"
#include "engine/core/name_uuid.h"
#include "samordna/v1/delivery.pb.h"
#include "samordna/v1/event.pb.h"
#include "samordna/v1/notification.pb.h"
#include "tests/integration/kafka_fixture.h"

namespace samordna {
namespace {

using namespace std::chrono_literals;
using kafka_test::Process;
using nlohmann::json;

class DeliverIntegrationTest : public kafka_test::KafkaTest {};

// RFC 4648 section 5 without padding: a notification's ref in serve's URLs.
std::string base64url(const std::string& id) {
  std::string b = deliver::base64_encode(id);
  while (!b.empty() && b.back() == '=') b.pop_back();
  for (char& c : b) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return b;
}

std::string secret_text(char fill) {
  return "whsec_" + deliver::base64_encode(std::string(32, fill));
}

struct Receipt {
  std::string path, id, episode, kind;
  bool sig = false;
  int status = 0;
};

std::vector<Receipt> receipts(const std::filesystem::path& log) {
  std::vector<Receipt> out;
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.back() != '}') continue;  // a line being written
    const auto j = json::parse(line);
    out.push_back({j["path"], j["id"], j["episode"], j["kind"], j["sig"], j["status"]});
  }
  return out;
}

// Per (path, episode): the ids answered 200, first arrivals only, in arrival order.
std::map<std::pair<std::string, std::string>, std::vector<std::string>> firsts(
    const std::vector<Receipt>& rs) {
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> out;
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& r : rs) {
    if (r.status != 200 || !seen.insert({r.path, r.id}).second) continue;
    out[{r.path, r.episode}].push_back(r.id);
  }
  return out;
}

TEST_F(DeliverIntegrationTest, EveryNotificationArrivesSignedInOrderThroughFailuresAndKills) {
  kafka_test::TempDir dir("samordna-deliver-it");
  const auto d = dir.path();
  ASSERT_EQ(std::system(("bash " SAMORDNA_SOURCE_DIR "/tests/unit/http/make_test_ca.sh " +
                         d.string() + " >/dev/null")
                            .c_str()),
            0);
  // Another CA, which the receiver's certificate is not from: the endpoint that trusts only it
  // must refuse the receiver (a man in the middle, to deliver).
  std::filesystem::create_directories(d / "other");
  ASSERT_EQ(std::system(("bash " SAMORDNA_SOURCE_DIR "/tests/unit/http/make_test_ca.sh " +
                         (d / "other").string() + " >/dev/null")
                            .c_str()),
            0);
  // A rotation: deliver signs with both, the receiver knows only the new secret.
  kafka_test::write_file(d / "old.secret", secret_text('o'));
  kafka_test::write_file(d / "new.secret", secret_text('n'));
  const json secrets = json::array({secret_text('n')});
  kafka_test::write_file(d / "behaviour.json",
                         json{{"/a", {{"secrets", secrets}, {"fail", 0.3}, {"timeout_s", 1.5}}},
                              {"/f", {{"secrets", secrets}, {"fail", 0.2}, {"timeout_s", 1.5}}},
                              {"/gone", {{"secrets", secrets}, {"status", 410}}},
                              {"/reject", {{"secrets", secrets}, {"status", 400}}}}
                             .dump());
  auto receiver = Process::start(
      {"/usr/bin/python3", SAMORDNA_SOURCE_DIR "/tests/integration/deliver/receiver.py", "--cert",
       (d / "server.pem").string(), "--key", (d / "server.key").string(), "--behaviour",
       (d / "behaviour.json").string(), "--log", (d / "log.jsonl").string(), "--port-file",
       (d / "port").string()});
  ASSERT_TRUE(kafka_test::wait_until([&] { return std::filesystem::exists(d / "port"); }, 20s))
      << receiver.err();
  std::string port;
  std::ifstream(d / "port") >> port;

  const std::string notifications = unique_topic("notifications");
  const std::string status_topic = unique_topic("status");
  const std::string deadletter_topic = unique_topic("deadletter");
  const std::string replay_topic = unique_topic("replay");
  create_topic(notifications, 2);
  create_topic(status_topic, 2, true);
  create_topic(deadletter_topic, 2);
  create_topic(replay_topic, 1);
  std::string endpoints;
  const auto endpoint = [&](const std::string& name, const std::string& org,
                            const std::string& extra, const std::string& ca = "ca.pem") {
    endpoints += "  - name: " + name + "\n    organisation: " + org +
                 "\n    host: 127.0.0.1\n    port: " + port + "\n    path: /" + name +
                 "\n    secretFiles: [old.secret, new.secret]\n    caFile: " + ca +
                 "\n    timeoutMs: 1000\n" + extra;
  };
  endpoint("a", "municipality:0180", "");
  endpoint("f", "outpatient_unit:vc-1",
           "    format: fhir\n    kinds: [admissionNotice, dischargeReadyNotice]\n");
  endpoint("gone", "municipality:0181", "    concurrency: 1\n");
  endpoint("reject", "municipality:0182", "");
  endpoint("badca", "municipality:0183", "", "other/ca.pem");
  const auto config = kafka_test::write_file(
      d / "deliver.yaml",
      "topics:\n  notifications: " + notifications + "\n  status: " + status_topic +
          "\n  deadletter: " + deadletter_topic + "\n  replay: " + replay_topic +
          "\nretry:\n  firstDelaySeconds: 1\n  maxDelaySeconds: 2\n"
          "endpoints:\n" +
          endpoints);

  // 40 episodes of 5 notifications; every one to municipality 0180 (endpoint a), every fourth
  // episode to vc-1 too (f, admission and discharge-ready notices only), every tenth to 0181
  // (gone) or 0182 (reject), and some to 9999, which has no endpoint.
  std::vector<kafka_test::Record> records;
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> expected;
  std::vector<std::string> rejected_ids;
  for (int e = 0; e < 40; ++e) {
    const std::string episode = "ep-" + std::to_string(e);
    for (int k = 0; k < 5; ++k) {
      v1::Notification n;
      n.set_notification_id(episode + "/" + std::to_string(k));
      n.set_episode_id(episode);
      n.mutable_issued_at()->set_seconds(1741593600 + k);
      std::vector<std::pair<v1::Organisation::Kind, std::string>> to = {
          {v1::Organisation::MUNICIPALITY, "0180"}};
      if (e % 4 == 0) to.emplace_back(v1::Organisation::OUTPATIENT_UNIT, "vc-1");
      if (e % 10 == 1) to.emplace_back(v1::Organisation::MUNICIPALITY, "0181");
      if (e % 10 == 2) to.emplace_back(v1::Organisation::MUNICIPALITY, "0182");
      if (e % 10 == 3) to.emplace_back(v1::Organisation::MUNICIPALITY, "0183");
      if (e % 3 == 0) to.emplace_back(v1::Organisation::MUNICIPALITY, "9999");
      for (const auto& [kind, id] : to) {
        auto* o = n.add_addressees();
        o->set_kind(kind);
        o->set_id(id);
      }
      bool patient_notice = false;
      switch (k) {
        case 0: {
          auto* a = n.mutable_admission_notice();
          a->set_care_unit("ward-1");
          a->mutable_patient()->set_personal_id("191212121212");
          a->mutable_patient()->set_name("Tolvan Tolvansson");
          a->mutable_admitted_at()->set_seconds(1741590000);
          patient_notice = true;
          break;
        }
        case 1:
          n.mutable_warning()->set_code(v1::Warning::DISCHARGE_READY_WITHOUT_CARE_CONTACT);
          break;
        case 2:
          n.mutable_discharge_ready_notice()->set_care_unit("ward-1");
          patient_notice = true;
          break;
        case 3:
          n.mutable_deadline_missed()->set_deadline(v1::SIP_INVITATION);
          break;
        default:
          n.mutable_admission_cancellation();
      }
      for (const auto& [kind, id] : to) {
        if (id == "0180") expected[{"/a", episode}].push_back(n.notification_id());
        if (id == "vc-1" && patient_notice)
          expected[{"/f", episode}].push_back(n.notification_id());
        if (id == "0181") expected[{"/gone", episode}].push_back(n.notification_id());
        if (id == "0182") rejected_ids.push_back(n.notification_id());
      }
      kafka_test::Record r;
      r.topic = notifications;
      r.key = episode;
      r.value = n.SerializeAsString();
      records.push_back(std::move(r));
    }
    if (e == 7 || e == 23) {
      // Not notifications: junk (a field longer than the record), and an empty record, which
      // protobuf parses as a notification with nothing set. Each must reach the dead letters with
      // its bytes, and hold up nothing behind it.
      kafka_test::Record junk;
      junk.topic = notifications;
      junk.key = episode;
      junk.value = e == 7 ? std::string("\x0a\x10not a protobuf", 16) : std::string();
      records.push_back(std::move(junk));
    }
  }
  ASSERT_TRUE(kafka_test::produce_records(bootstrap(), records));

  const std::vector<std::string> argv = {kafka_test::samordna_binary(),
                                         "deliver",
                                         "--config",
                                         config.string(),
                                         "--bootstrap",
                                         bootstrap(),
                                         "--data-dir",
                                         (d / "data").string()};
  // Killed three times while it works (the receiver's log shows it was mid-stream).
  constexpr size_t kKills = 3;
  for (size_t kill = 0; kill < kKills; ++kill) {
    auto deliver = Process::start(argv);
    const size_t before = receipts(d / "log.jsonl").size();
    ASSERT_TRUE(kafka_test::wait_until(
        [&] { return receipts(d / "log.jsonl").size() >= before + 25 || !deliver.running(); },
        30s));
    ASSERT_TRUE(deliver.running()) << deliver.err();
    deliver.signal(SIGKILL);
    deliver.wait(10s);
  }
  // The last run serves its metrics (a port picked free by binding port 0 and letting go).
  const int metrics_port = [] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return static_cast<int>(ntohs(a.sin_port));
  }();
  auto last_argv = argv;
  last_argv.insert(last_argv.end(),
                   {"--metrics-port", std::to_string(metrics_port), "--metrics-address",
                    "127.0.0.1", "--partition-check-seconds", "1"});
  auto deliver = Process::start(last_argv);
  const auto arrived = [&](const std::string& path) {
    const auto got = firsts(receipts(d / "log.jsonl"));
    for (const auto& [key, ids] : expected) {
      if (key.first != path) continue;
      auto it = got.find(key);
      if (it == got.end() || it->second.size() < ids.size()) return false;
    }
    return true;
  };
  ASSERT_TRUE(kafka_test::wait_until([&] { return arrived("/a") && arrived("/f"); }, 90s))
      << deliver.err();

  auto rs = receipts(d / "log.jsonl");
  size_t failures = 0;
  std::set<std::string> ids_a;
  for (const auto& r : rs) {
    EXPECT_TRUE(r.sig) << r.path << " " << r.id;
    failures += r.status != 200;
    if (r.path == "/a") ids_a.insert(r.id);
    if (r.path == "/f") {
      EXPECT_TRUE(r.kind == "fhir:admissionNotice" || r.kind == "fhir:dischargeReadyNotice")
          << r.kind;
    }
  }
  EXPECT_GT(failures, 20u) << "the receiver failed too rarely to test anything";
  // Per episode, the first arrivals are the topic's order, nothing missing, nothing extra.
  const auto got = firsts(rs);
  for (const auto& [key, ids] : expected) {
    if (key.first == "/gone") continue;
    EXPECT_EQ(got.count(key) ? got.at(key) : std::vector<std::string>{}, ids)
        << key.first << " " << key.second;
  }
  for (const auto& [key, ids] : got) {
    if (key.first == "/a" || key.first == "/f") {
      EXPECT_TRUE(expected.count(key)) << key.second;
    }
  }

  // 410: endpoint gone (20 notifications, one request at a time) got one request per run at most:
  // the first answer disables it; a kill between that answer and the outbox's note of it (the
  // DISABLED status goes to the broker first) lets the next run ask once more. Never more, while
  // the others went on.
  size_t gone_requests = 0;
  for (const auto& r : rs) {
    if (r.path != "/gone") continue;
    ++gone_requests;
    EXPECT_EQ(r.status, 410);
  }
  size_t gone_notifications = 0;
  for (const auto& [key, ids] : expected) {
    if (key.first == "/gone") gone_notifications += ids.size();
  }
  constexpr size_t kRuns = kKills + 1;  // the killed runs and the last one
  ASSERT_GT(gone_notifications, kRuns);
  EXPECT_GE(gone_requests, 1u);
  EXPECT_LE(gone_requests, kRuns);
  // The dead letters so far, read to the end (a fresh reader may stop before it has its
  // partitions: callers read again until what they expect is there).
  const auto dead_letters = [&] {
    kafka_test::ReadOptions quick;
    quick.idle = 500ms;
    quick.stop_at_end = true;
    auto dl = kafka_test::read_topic(bootstrap(), deadletter_topic, quick);
    EXPECT_TRUE(dl);
    return dl ? std::move(dl).value() : std::vector<kafka_test::Record>{};
  };
  // 400: each delivery to reject dead-lettered once (a kill may repeat one: at least once).
  ASSERT_TRUE(kafka_test::wait_until(
      [&] {
        std::set<std::string> ids;
        for (const auto& r : dead_letters()) {
          v1::DeliveryStatus s;
          if (s.ParseFromString(r.value) && s.code() == "rejected" &&
              s.notification().notification_id() == s.notification_id())
            ids.insert(s.notification_id());
        }
        return ids.size() == rejected_ids.size();
      },
      30s));
  // The two records that are not notifications: dead-lettered as read, with where they were.
  const std::multiset<std::string> junk = {std::string(),
                                           std::string("\x0a\x10not a protobuf", 16)};
  std::multiset<std::string> unreadable_bytes;
  ASSERT_TRUE(kafka_test::wait_until(
      [&] {
        std::map<std::string, std::string> unreadable;  // reason -> record (kills may repeat one)
        for (const auto& r : dead_letters()) {
          v1::DeliveryStatus s;
          if (!s.ParseFromString(r.value) || s.code() != "unreadable") continue;
          EXPECT_EQ(s.state(), v1::DeliveryStatus::DEAD_LETTERED);
          EXPECT_TRUE(s.notification_id().empty());
          EXPECT_NE(s.reason().find(notifications + "["), std::string::npos) << s.reason();
          EXPECT_NE(s.reason().find("is not a samordna.v1.Notification"), std::string::npos)
              << s.reason();
          unreadable[s.reason()] = s.record();
        }
        unreadable_bytes.clear();
        for (const auto& [reason, record] : unreadable) unreadable_bytes.insert(record);
        return unreadable_bytes == junk;
      },
      30s))
      << unreadable_bytes.size() << " unreadable records dead-lettered";

  // Replay one rejected delivery, and enable the endpoint that said 410 (it now answers 200).
  kafka_test::write_file(d / "behaviour.json",
                         json{{"/a", {{"secrets", secrets}}},
                              {"/f", {{"secrets", secrets}}},
                              {"/gone", {{"secrets", secrets}}},
                              {"/reject", {{"secrets", secrets}, {"status", 400}}}}
                             .dump());
  auto replay = kafka_test::run_command({kafka_test::samordna_binary(), "deliver", "replay",
                                         "--config", config.string(), "--bootstrap", bootstrap(),
                                         "--notification", rejected_ids.front()});
  ASSERT_EQ(replay.exit_code, 0) << replay.describe();
  auto enable = kafka_test::run_command({kafka_test::samordna_binary(), "deliver", "replay",
                                         "--config", config.string(), "--bootstrap", bootstrap(),
                                         "--enable-endpoint", "gone"});
  ASSERT_EQ(enable.exit_code, 0) << enable.describe();
  ASSERT_TRUE(kafka_test::wait_until(
      [&] {
        size_t again = 0;
        for (const auto& r : receipts(d / "log.jsonl"))
          again += r.path == "/reject" && r.id == rejected_ids.front();
        return again >= 2 && arrived("/gone");
      },
      30s))
      << deliver.err();
  for (const auto& [key, ids] : firsts(receipts(d / "log.jsonl"))) {
    if (key.first == "/gone") {
      EXPECT_EQ(ids, expected.at(key));
    }
  }

  // Partitions added to the notifications topic under the running deliver (it looks every second
  // here): what is written to them is delivered with no restart.
  add_partitions(notifications, 4);
  std::vector<kafka_test::Record> grown;
  for (int32_t p = 2; p < 4; ++p) {
    const std::string episode = "grown-" + std::to_string(p);
    v1::Notification n;
    n.set_notification_id(episode + "/0");
    n.set_episode_id(episode);
    n.mutable_issued_at()->set_seconds(1741593700);
    auto* to = n.add_addressees();
    to->set_kind(v1::Organisation::MUNICIPALITY);
    to->set_id("0180");
    n.mutable_warning()->set_code(v1::Warning::DISCHARGE_READY_WITHOUT_CARE_CONTACT);
    expected[{"/a", episode}] = {n.notification_id()};
    kafka_test::Record r;
    r.topic = notifications;
    r.partition = p;
    r.key = episode;
    r.value = n.SerializeAsString();
    grown.push_back(std::move(r));
  }
  ASSERT_TRUE(kafka_test::produce_records(bootstrap(), grown));
  ASSERT_TRUE(kafka_test::wait_until([&] { return arrived("/a"); }, 60s)) << deliver.err();

  // The status topic: the 410 and the dead letters are there, and nothing in it names a patient.
  kafka_test::ReadOptions to_end;
  to_end.stop_at_end = true;
  auto status = kafka_test::read_topic(bootstrap(), status_topic, to_end);
  ASSERT_TRUE(status);
  std::set<v1::DeliveryStatus::State> states;
  for (const auto& r : status.value()) {
    v1::DeliveryStatus s;
    ASSERT_TRUE(s.ParseFromString(r.value));
    EXPECT_EQ(*r.key, s.notification_id() + "/" + s.endpoint());
    EXPECT_FALSE(s.has_notification());
    states.insert(s.state());
    if (s.endpoint() == "gone" && s.state() == v1::DeliveryStatus::DISABLED) {
      EXPECT_EQ(s.last_status(), 410);
    }
  }
  // The endpoint whose CA did not sign the receiver's certificate: never a request, only retries
  // for a failed TLS handshake, and the others went on meanwhile.
  // (A busy receiver may also time a connect out: that is a transport failure too, but at least
  // one attempt must have reached the handshake and been refused there.)
  size_t badca_retries = 0, badca_refused = 0;
  for (const auto& r : status.value()) {
    v1::DeliveryStatus s;
    ASSERT_TRUE(s.ParseFromString(r.value));
    if (s.endpoint() != "badca") continue;
    EXPECT_NE(s.state(), v1::DeliveryStatus::DELIVERED);
    EXPECT_EQ(s.last_status(), 0) << s.reason();
    badca_retries += s.state() == v1::DeliveryStatus::RETRYING;
    badca_refused += s.reason().find("TLS handshake") != std::string::npos;
  }
  EXPECT_GT(badca_retries, 0u);
  EXPECT_GT(badca_refused, 0u);
  for (const auto& r : receipts(d / "log.jsonl")) EXPECT_NE(r.path, "/badca");
  EXPECT_EQ(states, (std::set<v1::DeliveryStatus::State>{
                        v1::DeliveryStatus::DELIVERED, v1::DeliveryStatus::RETRYING,
                        v1::DeliveryStatus::DEAD_LETTERED, v1::DeliveryStatus::DISABLED}));

  // Metrics: dead letters by code, disabled endpoints, the queue depth (all delivered now).
  auto metrics = kafka_test::run_command(
      {"/usr/bin/curl", "-s", "http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics"});
  EXPECT_NE(metrics.out.find(
                "samordna_deliver_dead_letters_total{endpoint=\"reject\",code=\"rejected\"}"),
            std::string::npos)
      << metrics.out;
  EXPECT_NE(metrics.out.find("samordna_deliver_queue_depth{endpoint=\"a\"} 0"), std::string::npos);
  EXPECT_NE(
      metrics.out.find("samordna_deliver_commit_to_delivery_seconds_bucket{endpoint=\"gone\""),
      std::string::npos);
  EXPECT_EQ(metrics.out.find("Tolvan"), std::string::npos);

  // serve shows each notification's delivery to the caller's own systems (issue: delivery status
  // in the API): the rejected notice as dead-lettered to municipality 0182, from the status topic
  // this run wrote, and nothing of it to another municipality.
  {
    kafka::KafkaConfig serve_config = unique_kafka_config(2, /*create=*/true);
    serve_config.topics.notifications = notifications;
    const auto serve_yaml = kafka_test::write_config(d / "serve.yaml", serve_config, d / "state");
    ASSERT_EQ(kafka_test::run_command({"/usr/bin/openssl", "ecparam", "-name", "prime256v1",
                                       "-genkey", "-noout", "-out", (d / "jwt.pem").string()})
                  .exit_code,
              0);
    ASSERT_EQ(kafka_test::run_command({"/usr/bin/openssl", "ec", "-in", (d / "jwt.pem").string(),
                                       "-pubout", "-out", (d / "jwt.pub.pem").string()})
                  .exit_code,
              0);
    // Created here, so that the fixture deletes it with the test's other topics (serve's own
    // producer would have the broker create it, and every run left one behind).
    const std::string audit_topic = unique_topic("audit");
    create_topic(audit_topic, 1);
    auto serve =
        Process::start({kafka_test::samordna_binary(), "serve", "--config", serve_yaml.string(),
                        "--data-dir", (d / "serve").string(), "--http-port", "0",
                        "--auth-public-key", (d / "jwt.pub.pem").string(), "--audit-topic",
                        audit_topic, "--delivery-status-topic", status_topic, "--no-web", "-v"});
    std::string url;
    ASSERT_TRUE(kafka_test::wait_until(
        [&] {
          const auto err = serve.err();
          const auto at = err.find("listening on ");
          if (at == std::string::npos) return false;
          url = "http://" + err.substr(at + 13, err.find(' ', at + 13) - (at + 13));
          return true;
        },
        60s))
        << serve.err();
    auto token = [&](const std::string& org) {
      auto t = kafka_test::run_command({kafka_test::samordna_binary(), "token", "--signing-key",
                                        (d / "jwt.pem").string(), "--org", org, "--role",
                                        "caseworker", "--ttl", "600"});
      EXPECT_EQ(t.exit_code, 0) << t.describe();
      return t.out.substr(0, t.out.find_last_not_of("\n") + 1);
    };
    auto get = [&](const std::string& path, const std::string& tok) {
      return kafka_test::run_command(
          {"/usr/bin/curl", "-s", "-H", "Authorization: Bearer " + tok, url + path});
    };
    ASSERT_TRUE(kafka_test::wait_until(
        [&] {
          return kafka_test::run_command({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w",
                                          "%{http_code}", url + "/readyz"})
                     .out == "200";
        },
        60s));
    const std::string ref = base64url(rejected_ids.front());
    const auto mine =
        json::parse(get("/api/v1/notifications/" + ref, token("MUNICIPALITY:0182")).out);
    ASSERT_EQ(mine["delivery"].size(), 1u) << mine.dump();
    EXPECT_EQ(mine["delivery"][0]["endpoint"], "reject");
    EXPECT_EQ(mine["delivery"][0]["state"], "dead_lettered");
    EXPECT_EQ(mine["delivery"][0]["code"], "rejected");
    EXPECT_EQ(mine["delivery"][0]["lastStatus"], 400);
    const auto dead =
        json::parse(get("/api/v1/deliveries?state=dead_lettered", token("MUNICIPALITY:0182")).out);
    EXPECT_EQ(dead["items"].size(), rejected_ids.size()) << dead.dump();
    const auto others =
        json::parse(get("/api/v1/deliveries?state=dead_lettered", token("MUNICIPALITY:0180")).out);
    EXPECT_TRUE(others["items"].empty()) << others.dump();

    // The outpatient unit's system answers a FHIR message it got with a MedCom-style
    // acknowledgement (code ok): serve turns it into one durable noticeAcknowledged on the events
    // topic, as it does a POST .../ack.
    const std::string acked = expected.at({"/f", "ep-0"}).front();
    const std::string fhir_ack =
        json{{"resourceType", "Bundle"},
             {"type", "message"},
             {"entry",
              json::array(
                  {{{"resource",
                     {{"resourceType", "MessageHeader"},
                      {"response",
                       {{"identifier", fhir_message_header_id(acked)}, {"code", "ok"}}}}}}})}}
            .dump();
    const auto posted =
        kafka_test::run_command({"/usr/bin/curl", "-s", "-w", "\n%{http_code}", "-X", "POST", "-H",
                                 "Authorization: Bearer " + token("OUTPATIENT_UNIT:vc-1"), "-H",
                                 "Content-Type: application/fhir+json", "--data-binary", fhir_ack,
                                 url + "/fhir/$process-message"});
    EXPECT_EQ(posted.out.substr(posted.out.rfind('\n') + 1), "202") << posted.out;
    auto events = kafka_test::read_topic(bootstrap(), serve_config.topics.events, to_end);
    ASSERT_TRUE(events);
    int acks = 0;
    for (const auto& r : events.value()) {
      v1::Event e;
      ASSERT_TRUE(e.ParseFromString(r.value));
      if (!e.has_notice_acknowledged()) continue;
      ++acks;
      EXPECT_EQ(e.notice_acknowledged().notification_id(), acked);
      EXPECT_EQ(e.notice_acknowledged().by().id(), "vc-1");
      EXPECT_EQ(e.episode_id(), "ep-0");
    }
    EXPECT_EQ(acks, 1);
    serve.signal(SIGTERM);
    EXPECT_EQ(serve.wait(30s).exit_code, 0);
  }

  deliver.signal(SIGTERM);
  const auto end = deliver.wait(30s);
  EXPECT_EQ(end.exit_code, 0) << end.describe();
  EXPECT_EQ(end.err.find("Tolvan"), std::string::npos);
  EXPECT_EQ(end.err.find("191212121212"), std::string::npos);
}

TEST_F(DeliverIntegrationTest, ABrokenConfigIsRefusedWithFileAndLine) {
  kafka_test::TempDir dir("samordna-deliver-it");
  const auto config =
      kafka_test::write_file(dir.path() / "deliver.yaml", "endpoints:\n  - name: a\n    port: x\n");
  auto r = kafka_test::run_command({kafka_test::samordna_binary(), "deliver", "--config",
                                    config.string(), "--bootstrap", bootstrap()});
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.err.find("deliver.yaml:3: 'port' must be a whole number"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace samordna
