// serve_bench: the read model and the API handlers of `samordna serve` with many episodes, without
// Kafka and without sockets (tests/bench/README.md, "samordna serve").
//   1. load: N synthetic episodes (a view each, 3 deadlines, 2 notices) and 4 notifications each,
//      through ReadModel::apply in batches of 2000, as the consume loop applies them: records/s;
//   2. answer: R requests per route through Api::handle on one thread, random episodes and
//      organisations: requests/s, p50 and p99 latency.
// The audit sink and the publisher answer at once here: live, each audited request also waits for
// one acks=all round trip to Kafka (measure that with the broker, not here).
//
//   serve_bench [EPISODES=100000] [REQUESTS=2000] [DIR=/tmp/samordna-serve-bench]

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

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
  out.push_back(Record{"samordna.episodes", 0, off_e++, episode(i), v.SerializeAsString()});
  for (const auto& n : ns) {
    out.push_back(Record{"samordna.notifications", 0, off_n++, episode(i), n.SerializeAsString()});
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

}  // namespace

int main(int argc, char** argv) {
  const int episodes = argc > 1 ? std::stoi(argv[1]) : 100000;
  const int requests = argc > 2 ? std::stoi(argv[2]) : 2000;
  const std::filesystem::path dir = argc > 3 ? argv[3] : "/tmp/samordna-serve-bench";
  std::filesystem::remove_all(dir);
  auto model = ReadModel::open(dir).value();

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
  struct Route {
    const char* name;
    std::function<HttpRequest(int)> make;
  };
  const std::vector<Route> routes = {
      {"GET /api/v1/episodes/{id} (ward)",
       [&](int i) {
         return HttpRequest{"GET", "/api/v1/episodes/" + episode(i),
                            {},    token(v1::Organisation::WARD, ward(i), Role::kCaseworker),
                            "",    ""};
       }},
      {"GET /api/v1/notifications (municipality, 50 a page)",
       [&](int i) {
         return HttpRequest{
             "GET", "/api/v1/notifications",
             {},    token(v1::Organisation::MUNICIPALITY, municipality(i), Role::kCaseworker),
             "",    ""};
       }},
      {"GET /api/v1/notifications/{ref}",
       [&](int i) {
         return HttpRequest{
             "GET", "/api/v1/notifications/" + base64url_encode(episode(i) + "/e/0"),
             {},    token(v1::Organisation::MUNICIPALITY, municipality(i), Role::kCaseworker),
             "",    ""};
       }},
      {"GET /api/v1/deadlines?state=at_risk (region)",
       [&](int i) {
         return HttpRequest{
             "GET",
             "/api/v1/deadlines",
             {{"state", "at_risk"}},
             token(v1::Organisation::REGION, std::to_string(1 + i % 21), Role::kCoordinator),
             "",
             ""};
       }},
      {"GET /api/v1/statistics/payment-liability (region)",
       [&](int i) {
         return HttpRequest{
             "GET", "/api/v1/statistics/payment-liability",
             {},    token(v1::Organisation::REGION, std::to_string(1 + i % 21), Role::kCoordinator),
             "",    ""};
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
