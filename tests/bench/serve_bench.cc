// serve_bench: the read model and the API handlers of `samordna serve` with many episodes, without
// Kafka and without sockets (tests/bench/README.md, "samordna serve").
//   1. load: N synthetic episodes (a view each, 3 deadlines, 2 notices) and 4 notifications each,
//      through ReadModel::apply in batches of 2000, as the consume loop applies them: records/s;
//   2. answer: R requests per route through Api::handle on one thread, random episodes and
//      organisations: requests/s, p50 and p99 latency.
// The audit sink and the publisher answer at once here: live, each audited request also waits for
// one acks=all round trip to Kafka (run_serve_bench.sh measures that over HTTP with wrk).
//
//   serve_bench [EPISODES=100000] [REQUESTS=2000] [DIR=/tmp/samordna-serve-bench] [PREFIX]
//     PREFIX: the records' topics are PREFIX.episodes and PREFIX.notifications (default
//     samordna.*), so that `samordna serve` with those topics opens DIR as its own read model (the
//     bulk loader of run_serve_bench.sh). REQUESTS 0: load only.
//   serve_bench --produce BOOTSTRAP PREFIX EPISODES: the same records to Kafka (topics created,
//     4 partitions, keyed by episode): the feed of the catch-up benchmark.
//   serve_bench --consume BOOTSTRAP PREFIX: the raw ceiling: one librdkafka consumer, every
//     partition of both topics assigned, read_committed, to the end: records/s.

#include <librdkafka/rdkafkacpp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "connectors/kafka/admin.h"
#include "connectors/kafka/config.h"
#include "connectors/serve/api.h"
#include "connectors/serve/base64url.h"

using namespace samordna;
using namespace samordna::serve;
using Steady = std::chrono::steady_clock;

namespace {

std::string municipality(int i) { return std::to_string(1000 + i % 290); }
std::string ward(int i) { return "ward-" + std::to_string(i % 400); }
std::string unit(int i) { return "vc-" + std::to_string(i % 1000); }
std::string episode(int i) { return "ep-" + std::to_string(i); }

v1::Organisation org(v1::Organisation::Kind k, const std::string& id) {
  v1::Organisation o;
  o.set_kind(k);
  o.set_id(id);
  return o;
}

TopicNames g_topics;

std::vector<Record> records(int i, int64_t& off_e, int64_t& off_n) {
  const Instant admitted = from_unix(1735689600 + int64_t{i} * 300);  // 2025 on, one every 5 min
  v1::EpisodeView v;
  v.set_episode_id(episode(i));
  v.set_status(i % 3 == 0 ? v1::EpisodeView::OPEN : v1::EpisodeView::SETTLED);
  v.set_care_unit(ward(i));
  v.set_region(std::to_string(1 + i % 21));
  v.set_home_municipality(municipality(i));
  v.set_outpatient_unit(unit(i));
  v.mutable_patient()->set_personal_id("19900101" + std::to_string(1000 + i % 9000));
  v.mutable_patient()->set_name("Patient " + std::to_string(i));
  *v.mutable_admitted_at() = to_proto(admitted);
  *v.mutable_updated_at() = to_proto(admitted + std::chrono::hours{24 * 10});
  if (i % 3 != 0) {
    *v.mutable_discharge_ready_at() = to_proto(admitted + std::chrono::hours{24 * 5});
    *v.mutable_discharged_at() = to_proto(admitted + std::chrono::hours{24 * 9});
    auto* l = v.mutable_liability();
    l->set_municipality(municipality(i));
    l->set_status(i % 2 ? v1::PaymentLiability::LIABLE : v1::PaymentLiability::NOT_LIABLE);
    l->set_liable_days(i % 2 ? 2 : 0);
    l->set_amount_sek(i % 2 ? 2 * 9300 : 0);
  }
  for (int k = 1; k <= 3; ++k) {
    auto* d = v.add_deadlines();
    d->set_kind(static_cast<v1::DeadlineKind>(k));
    d->set_state(static_cast<v1::EpisodeView::Deadline::State>(1 + (i + k) % 3));
    *d->mutable_due_at() = to_proto(admitted + std::chrono::hours{24 * k});
    *d->mutable_responsible() = org(v1::Organisation::WARD, ward(i));
    d->set_explanation("2 kap. 3 §: admitted + 24 h");
  }
  std::vector<Record> out;
  std::vector<v1::Notification> ns;
  for (int k = 0; k < 4; ++k) {
    v1::Notification n;
    n.set_notification_id(episode(i) + "/e/" + std::to_string(k));
    n.set_episode_id(episode(i));
    *n.mutable_issued_at() = to_proto(admitted + std::chrono::hours{k});
    if (k < 2) {
      n.mutable_admission_notice()->mutable_patient()->CopyFrom(v.patient());
      *n.add_addressees() = k == 0 ? org(v1::Organisation::MUNICIPALITY, municipality(i))
                                   : org(v1::Organisation::OUTPATIENT_UNIT, unit(i));
      auto* notice = v.add_notices();
      notice->set_notification_id(n.notification_id());
      notice->set_kind(v1::EpisodeView::Notice::ADMISSION_NOTICE);
      *notice->mutable_recipient() = n.addressees(0);
      *notice->mutable_issued_at() = n.issued_at();
    } else {
      n.mutable_deadline_missed()->set_deadline(v1::SIP_INVITATION);
      *n.add_addressees() = org(v1::Organisation::WARD, ward(i));
    }
    ns.push_back(std::move(n));
  }
  out.push_back(Record{g_topics.episodes, 0, off_e++, episode(i), v.SerializeAsString()});
  for (const auto& n : ns) {
    out.push_back(Record{g_topics.notifications, 0, off_n++, episode(i), n.SerializeAsString()});
  }
  return out;
}

std::string pem(EVP_PKEY* key, bool priv) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (priv) {
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PUBKEY(bio, key);
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string s(data, static_cast<size_t>(n));
  BIO_free(bio);
  return s;
}

TopicNames topics_of(const std::string& prefix) {
  return TopicNames{prefix + ".episodes", prefix + ".notifications", prefix + ".audit"};
}

int produce(const std::string& bootstrap, const std::string& prefix, int episodes) {
  g_topics = topics_of(prefix);
  kafka::KafkaConfig config;
  config.bootstrap = bootstrap;
  auto made = kafka::create_topics(
      config, {{g_topics.episodes, 4, true}, {g_topics.notifications, 4, false}},
      std::chrono::seconds{30});
  if (!made) {
    std::fprintf(stderr, "create topics: %s\n", made.error().message.c_str());
    return 1;
  }
  auto conf = kafka::make_conf(config, {{"linger.ms", "20"}, {"enable.idempotence", "true"}});
  if (!conf) return 1;
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.value().get(), err));
  if (!p) {
    std::fprintf(stderr, "producer: %s\n", err.c_str());
    return 1;
  }
  int64_t off_e = 0, off_n = 0, total = 0;
  const auto t0 = Steady::now();
  for (int i = 0; i < episodes; ++i) {
    for (auto& r : records(i, off_e, off_n)) {
      while (p->produce(r.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                        r.value->data(), r.value->size(), r.key.data(), r.key.size(), 0,
                        nullptr) == RdKafka::ERR__QUEUE_FULL) {
        p->poll(100);
      }
      ++total;
    }
    p->poll(0);
  }
  if (p->flush(120000) != RdKafka::ERR_NO_ERROR) return 1;
  const double s = std::chrono::duration<double>(Steady::now() - t0).count();
  std::printf("produced %lld records (%d episodes) to %s and %s in %.1f s\n",
              static_cast<long long>(total), episodes, g_topics.episodes.c_str(),
              g_topics.notifications.c_str(), s);
  return 0;
}

// The raw consume ceiling: the same client settings as serve's consume loop (read_committed, every
// partition assigned, no group), no decoding, no SQLite.
int consume(const std::string& bootstrap, const std::string& prefix) {
  const auto topics = topics_of(prefix);
  kafka::KafkaConfig config;
  config.bootstrap = bootstrap;
  auto conf = kafka::make_conf(config, {{"group.id", "serve-bench-raw"},
                                        {"isolation.level", "read_committed"},
                                        {"enable.auto.commit", "false"},
                                        {"enable.partition.eof", "true"}});
  if (!conf) return 1;
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> c(
      RdKafka::KafkaConsumer::create(conf.value().get(), err));
  if (!c) {
    std::fprintf(stderr, "consumer: %s\n", err.c_str());
    return 1;
  }
  std::vector<RdKafka::TopicPartition*> parts;
  for (const auto& t : {topics.episodes, topics.notifications}) {
    for (int32_t k = 0; k < 4; ++k) {
      parts.push_back(RdKafka::TopicPartition::create(t, k, RdKafka::Topic::OFFSET_BEGINNING));
    }
  }
  const auto t0 = Steady::now();
  c->assign(parts);
  size_t eof = 0;
  int64_t n = 0, bytes = 0;
  while (eof < parts.size()) {
    std::unique_ptr<RdKafka::Message> m(c->consume(1000));
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      ++n;
      bytes += static_cast<int64_t>(m->len());
    } else if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      ++eof;
    } else if (m->err() != RdKafka::ERR__TIMED_OUT) {
      std::fprintf(stderr, "consume: %s\n", m->errstr().c_str());
      return 1;
    }
  }
  const double s = std::chrono::duration<double>(Steady::now() - t0).count();
  std::printf("raw consume: %lld records, %.0f MB in %.2f s: %.0f records/s\n",
              static_cast<long long>(n), static_cast<double>(bytes) / 1e6, s,
              static_cast<double>(n) / s);
  RdKafka::TopicPartition::destroy(parts);
  c->close();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--produce") {
    return produce(argv[2], argv[3], std::stoi(argv[4]));
  }
  if (argc == 4 && std::string(argv[1]) == "--consume") return consume(argv[2], argv[3]);
  const int episodes = argc > 1 ? std::stoi(argv[1]) : 100000;
  const int requests = argc > 2 ? std::stoi(argv[2]) : 2000;
  const std::filesystem::path dir = argc > 3 ? argv[3] : "/tmp/samordna-serve-bench";
  if (argc > 4) g_topics = topics_of(argv[4]);
  std::filesystem::remove_all(dir);
  auto model = ReadModel::open(dir, g_topics).value();

  // 1. load
  int64_t off_e = 0, off_n = 0, total = 0;
  auto t0 = Steady::now();
  std::vector<Record> batch;
  for (int i = 0; i < episodes; ++i) {
    for (auto& r : records(i, off_e, off_n)) batch.push_back(std::move(r));
    if (batch.size() >= 2000 || i + 1 == episodes) {
      total += static_cast<int64_t>(batch.size());
      if (!model->apply(batch)) return 3;
      batch.clear();
    }
  }
  const double load_s = std::chrono::duration<double>(Steady::now() - t0).count();
  std::printf("load: %d episodes, %lld records in %.1f s: %.0f records/s; %s: %.0f MB\n", episodes,
              static_cast<long long>(total), load_s, static_cast<double>(total) / load_s,
              (dir / "readmodel.sqlite").c_str(),
              static_cast<double>(std::filesystem::file_size(dir / "readmodel.sqlite")) / 1e6);
  std::fflush(stdout);
  if (requests == 0) return 0;

  // 2. answer
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  const std::string priv = pem(key, true), pub = pem(key, false);
  EVP_PKEY_free(key);
  auto verifier = Verifier::from_pem(pub, AuthConfig{}).value();
  ManualClock clock(from_unix(1735689600 + int64_t{episodes} * 150));
  ApiHooks hooks;
  hooks.audit = [](const std::string&, const std::string&) -> Result<void> { return ok(); };
  hooks.publish = [](const v1::Event&) -> Result<void> { return ok(); };
  Api api(*model, verifier, clock, std::move(hooks));
  auto token = [&](v1::Organisation::Kind k, const std::string& id, Role role) {
    TokenRequest r;
    r.org = OrgRef{k, id};
    r.role = role;
    r.now = clock.now();
    return "Bearer " + mint_token(priv, r).value();
  };
  std::mt19937 rng(7);
  auto req = [](std::string path, std::vector<std::pair<std::string, std::string>> query,
                std::string authorization) {
    HttpRequest r;
    r.method = "GET";
    r.path = std::move(path);
    r.query = std::move(query);
    r.authorization = std::move(authorization);
    return r;
  };
  struct Route {
    const char* name;
    std::function<HttpRequest(int)> make;
  };
  const std::vector<Route> routes = {
      {"GET /api/v1/episodes/{id} (ward)",
       [&](int i) {
         return req("/api/v1/episodes/" + episode(i), {},
                    token(v1::Organisation::WARD, ward(i), Role::kCaseworker));
       }},
      {"GET /api/v1/notifications (municipality, 50 a page)",
       [&](int i) {
         return req("/api/v1/notifications", {},
                    token(v1::Organisation::MUNICIPALITY, municipality(i), Role::kCaseworker));
       }},
      {"GET /api/v1/notifications/{ref}",
       [&](int i) {
         return req("/api/v1/notifications/" + base64url_encode(episode(i) + "/e/0"), {},
                    token(v1::Organisation::MUNICIPALITY, municipality(i), Role::kCaseworker));
       }},
      {"GET /api/v1/deadlines?state=at_risk (region)",
       [&](int i) {
         return req(
             "/api/v1/deadlines", {{"state", "at_risk"}},
             token(v1::Organisation::REGION, std::to_string(1 + i % 21), Role::kCoordinator));
       }},
      {"GET /api/v1/statistics/payment-liability (region)",
       [&](int i) {
         return req(
             "/api/v1/statistics/payment-liability", {},
             token(v1::Organisation::REGION, std::to_string(1 + i % 21), Role::kCoordinator));
       }},
  };
  for (const auto& route : routes) {
    // A statistics answer scans its region's episodes: fewer of them.
    const bool stats = std::string(route.name).find("statistics") != std::string::npos;
    const int n = stats ? std::max(1, requests / 10) : requests;
    std::vector<HttpRequest> reqs;
    for (int k = 0; k < n; ++k) reqs.push_back(route.make(static_cast<int>(rng() % episodes)));
    std::vector<double> us;
    int ok200 = 0;
    const auto start = Steady::now();
    for (const auto& r : reqs) {
      const auto a = Steady::now();
      const auto resp = api.handle(r);
      us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - a).count());
      ok200 += resp.status == 200;
    }
    const double s = std::chrono::duration<double>(Steady::now() - start).count();
    std::sort(us.begin(), us.end());
    std::printf("%-55s %6d requests (%d x 200): %7.0f req/s, p50 %7.0f us, p99 %7.0f us\n",
                route.name, n, ok200, n / s, us[us.size() / 2], us[us.size() * 99 / 100]);
  }
  return 0;
}
