// Fuzzes what `samordna serve` parses from outside: a bearer token (Verifier::verify, through
// libjwt and the claims), a JWKS document, an audit record read back from Kafka, and a whole API
// request (path, query, search body, Authorization header) through Api::handle against a small
// read model; the mTLS client-certificate map (a YAML file, client_certs.h) and a certificate
// subject looked up in it. Must never crash, throw, hang or leak; an answer must never quote an
// identity number the request carried, and never be 200 without a valid token on an /api/v1 route.
//
// Also the web app's side: a URL path through safe_relative (the static files' fence: it must never
// yield a path with a "." segment, an empty one or a backslash), and a request to the live stream
// and the session route.
//
// The first byte chooses the target (modulo 8: 0 token, 1 JWKS, 2 audit record, 3 API request, 4
// certificate map, 5 certificate subject, 6 static path, 7 live stream and session); the rest is
// its input. For the API: lines "METHOD PATH",
// then "k=v" query lines up to an empty line, then the body; a line "TOKEN" is replaced by a
// valid caseworker token of MUNICIPALITY:0180.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>

#include "connectors/serve/api.h"
#include "connectors/serve/audit.h"
#include "connectors/serve/auth.h"
#include "connectors/serve/client_certs.h"
#include "connectors/serve/live.h"
#include "connectors/serve/static.h"
#include "samordna/v1/delivery.pb.h"

namespace {

using namespace samordna;
using namespace samordna::serve;

struct World {
  std::string private_pem, public_pem, token;
  std::unique_ptr<ReadModel> model;
  std::unique_ptr<Verifier> verifier;
  ManualClock clock{parse_rfc3339("2026-01-01T00:00:00Z").value()};
  std::unique_ptr<Api> api;
  std::unique_ptr<LiveHub> live;

  World() {
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    private_pem.assign(data, static_cast<size_t>(n));
    BIO_free(bio);
    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key);
    n = BIO_get_mem_data(bio, &data);
    public_pem.assign(data, static_cast<size_t>(n));
    BIO_free(bio);
    EVP_PKEY_free(key);
    const auto dir = std::filesystem::temp_directory_path() /
                     ("samordna-fuzz-serve-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    model = ReadModel::open(dir).value();
    v1::EpisodeView v;
    v.set_episode_id("ep1");
    v.set_home_municipality("0180");
    v.set_care_unit("w1");
    v.mutable_patient()->set_personal_id("199001012385");
    // A notice to the caller's municipality (its FHIR message id is in the corpus' fhir_ack_*)
    // and its delivery, so the inbox, the FHIR acknowledgement and the deliveries reach rows.
    v1::Notification notice;
    notice.set_notification_id("ep1/n1");
    notice.set_episode_id("ep1");
    notice.mutable_issued_at()->set_seconds(1735722000);
    notice.mutable_admission_notice()->mutable_recipient()->set_unit("0180");
    notice.add_addressees()->set_kind(v1::Organisation::MUNICIPALITY);
    notice.mutable_addressees(0)->set_id("0180");
    v1::DeliveryStatus d;
    d.set_notification_id("ep1/n1");
    d.set_endpoint("case");
    *d.mutable_organisation() = notice.addressees(0);
    d.set_state(v1::DeliveryStatus::RETRYING);
    d.set_episode_id("ep1");
    (void)model->apply(
        {Record{"samordna.episodes", 0, 0, "ep1", v.SerializeAsString()},
         Record{"samordna.notifications", 0, 0, "ep1", notice.SerializeAsString()},
         Record{"samordna.delivery.status", 0, 0, "ep1/n1/case", d.SerializeAsString()}});
    verifier = std::make_unique<Verifier>(Verifier::from_pem(public_pem, AuthConfig{}).value());
    TokenRequest r;
    r.org = OrgRef{v1::Organisation::MUNICIPALITY, "0180"};
    r.now = clock.now();
    token = mint_token(private_pem, r).value();
    ApiHooks hooks;
    hooks.audit = [](const std::string&, const std::string&) -> Result<void> { return ok(); };
    hooks.publish = [](const v1::Event&) -> Result<void> { return ok(); };
    api = std::make_unique<Api>(*model, *verifier, clock, std::move(hooks));
    LiveOptions lo;
    lo.hold = std::chrono::milliseconds{0};  // a waiting request is answered on the next look
    lo.poll = std::chrono::milliseconds{1};
    live = std::make_unique<LiveHub>(*model, *verifier, clock, lo);
  }
};

World& world() {
  static World w;
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  World& w = world();
  const std::string in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 8) {
    case 0:
      (void)w.verifier->verify(in, w.clock.now());
      break;
    case 1:
      (void)Verifier::from_jwks(in, AuthConfig{});
      break;
    case 2: {
      auto r = parse_audit_record(in);
      if (r) (void)to_json(r.value());
      break;
    }
    case 4:
      (void)ClientCertificateMap::from_yaml(in);
      break;
    case 5: {
      static const ClientCertificateMap map =
          ClientCertificateMap::from_yaml(
              "clientCertificates:\n  - {subject: 'CN=a\\, b,O=Region', org: \"REGION:01\", "
              "role: operator, name: a}\n")
              .value();
      // Only the mapped subject (up to blanks around separators) authenticates.
      if (map.principal(in) && ClientCertificateMap::normalise(in) !=
                                   ClientCertificateMap::normalise("CN=a\\, b,O=Region")) {
        std::abort();
      }
      break;
    }
    case 6: {
      const auto rel = safe_relative(in);
      if (rel) {
        const std::string r = "/" + *rel + "/";
        if (r.find("/./") != std::string::npos || r.find("/../") != std::string::npos ||
            r.find("//") != std::string::npos || r.find('\\') != std::string::npos ||
            r.find('\0') != std::string::npos || r.find("/.") != std::string::npos) {
          std::abort();  // a way out of the web folder
        }
      }
      (void)content_type_for(in);
      break;
    }
    default: {
      std::istringstream lines(in);
      HttpRequest req;
      std::string line;
      std::getline(lines, line);
      const auto sp = line.find(' ');
      req.method = line.substr(0, sp);
      req.path = sp == std::string::npos ? "/" : line.substr(sp + 1);
      while (std::getline(lines, line) && !line.empty()) {
        if (line == "TOKEN") {
          req.authorization = "Bearer " + w.token;
          continue;
        }
        const auto eq = line.find('=');
        req.query.emplace_back(line.substr(0, eq),
                               eq == std::string::npos ? "" : line.substr(eq + 1));
      }
      std::stringstream rest;
      rest << lines.rdbuf();
      req.body = rest.str();
      if (data[0] % 8 == 7) {
        // The live stream and the session: the answer may come from the hub's thread.
        (void)session_answer(req, *w.verifier, w.clock.now());
        auto done = std::make_shared<std::atomic<bool>>(false);
        w.live->handle(req, [done](HttpResponse) { done->store(true); });
        while (!done->load()) std::this_thread::yield();
        break;
      }
      const auto resp = w.api->handle(req);
      if (resp.status == 200 && req.authorization.empty() && req.path.rfind("/api/v1", 0) == 0) {
        std::abort();  // an API answer without a token
      }
      if (resp.status != 200 && in.find("199001012385") != std::string::npos &&
          resp.body.find("199001012385") != std::string::npos) {
        std::abort();  // an error quoting the identity number the request carried
      }
      break;
    }
  }
  return 0;
}
