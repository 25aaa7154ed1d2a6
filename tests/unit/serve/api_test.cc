// The access matrix: every route x every role x every organisation kind, against a read model of
// two worlds (tests/unit/serve/serve_fixture.h). For each cell the expected answer comes from the
// policy written out below (README "Who sees what"), not from the code under test. Also: audit
// completeness, an unavailable audit log, the acknowledgement.

#include "connectors/serve/api.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <mutex>
#include <set>

#include "connectors/serve/base64url.h"
#include "connectors/serve/client_certs.h"
#include "engine/core/name_uuid.h"
#include "samordna/v1/delivery.pb.h"
#include "tests/unit/serve/serve_fixture.h"

namespace samordna::serve {
namespace {

using namespace samordna::serve::testing;
using K = v1::Organisation;
using json = nlohmann::json;

const std::vector<Role> kRoles = {Role::kCaseworker, Role::kCoordinator, Role::kAuditor,
                                  Role::kOperator};

// The policy, per route template: may this role of this organisation kind use the route at all?
bool may_use(const std::string& route, Role role, K::Kind kind) {
  const bool cases = role == Role::kCaseworker || role == Role::kCoordinator;
  if (route.rfind("/api/v1/notifications", 0) == 0 || route == "/api/v1/deadlines") return cases;
  if (route == "/fhir/$process-message") return cases;
  if (route == "/api/v1/episodes/search") return cases && kind != K::REGION;
  if (route.rfind("/api/v1/episodes", 0) == 0) {
    return cases && (kind != K::REGION || role == Role::kCoordinator);
  }
  if (route.rfind("/api/v1/statistics", 0) == 0) {
    return role == Role::kCoordinator && (kind == K::REGION || kind == K::MUNICIPALITY);
  }
  if (route == "/api/v1/audit") return role == Role::kAuditor;
  if (route == "/metrics") return role == Role::kOperator;
  if (route == "/api/v1/deliveries") return cases || role == Role::kOperator;
  return false;
}

bool audited(const std::string& route) {
  return route.rfind("/api/v1/notifications", 0) == 0 || route.rfind("/api/v1/episodes", 0) == 0 ||
         route == "/api/v1/deadlines" || route == "/api/v1/deliveries" ||
         route == "/fhir/$process-message" || route == "/api/v1/audit";
}

class ServeApi : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    model_ = ReadModel::open(dir_).value();
    ASSERT_TRUE(model_->apply(world_records(model_->topics())));
    keys_ = make_keys("EC");
    verifier_ =
        std::make_unique<Verifier>(Verifier::from_pem(keys_.public_pem, AuthConfig{}).value());
    clock_.set(at("2029-12-31T12:00:00Z"));
    ApiHooks hooks;
    hooks.audit = [this](const std::string& key, const std::string& value) -> Result<void> {
      std::lock_guard lock(mu_);
      if (audit_down_) return fail(Errc::kUnavailable, "audit topic unavailable");
      audit_.push_back(json::parse(value));
      audit_keys_.push_back(key);
      return ok();
    };
    hooks.publish = [this](const v1::Event& e) -> Result<void> {
      std::lock_guard lock(mu_);
      if (publish_down_) return fail(Errc::kUnavailable, "broker down");
      published_.push_back(e);
      return ok();
    };
    hooks.metrics = [] { return std::string("samordna_up 1\n"); };
    // mTLS: one system's certificate mapped to municipality A's caseworker.
    cert_map_ = ClientCertificateMap::from_yaml(R"(clientCertificates:
  - {subject: "CN=case-system,O=Municipality A,C=SE", org: "MUNICIPALITY:0180",
     role: caseworker, name: case-system-a}
)")
                    .value();
    hooks.client_certificate = [this](const std::string& subject) {
      return cert_map_.principal(subject);
    };
    api_ = std::make_unique<Api>(*model_, *verifier_, clock_, std::move(hooks));
  }
  void TearDown() override {
    api_.reset();
    model_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string token(Role role, const OrgRef& o) {
    TokenRequest r;
    r.subject = "user-" + o.id;
    r.org = o;
    r.role = role;
    r.now = clock_.now();
    return mint_token(keys_.private_pem, r).value();
  }

  HttpResponse call(const std::string& method, const std::string& target, const std::string& tok,
                    const std::string& body = {}) {
    // The server hands the path and the query decoded; the targets here need no decoding.
    HttpRequest req;
    req.method = method;
    const auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) {
      std::string qs = target.substr(q + 1);
      size_t start = 0;
      while (start <= qs.size()) {
        const auto amp = qs.find('&', start);
        const auto pair =
            qs.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
        const auto eq = pair.find('=');
        req.query.emplace_back(pair.substr(0, eq),
                               eq == std::string::npos ? "" : pair.substr(eq + 1));
        if (amp == std::string::npos) break;
        start = amp + 1;
      }
    }
    if (!tok.empty()) req.authorization = "Bearer " + tok;
    req.body = body;
    req.client_certificate_subject = client_subject_;
    return api_->handle(req);
  }

  std::filesystem::path dir_;
  std::unique_ptr<ReadModel> model_;
  KeyPair keys_;
  std::unique_ptr<Verifier> verifier_;
  ManualClock clock_;
  std::unique_ptr<Api> api_;
  ClientCertificateMap cert_map_;
  std::mutex mu_;
  bool audit_down_ = false;
  bool publish_down_ = false;
  std::vector<json> audit_;
  std::vector<std::string> audit_keys_;
  std::vector<v1::Event> published_;
  std::optional<std::string> client_subject_;  // the verified client certificate of call()
};

// One request of the matrix: the route template, and the concrete request a caller of
// organisation kind `kind` makes for world A's resource addressed to that kind.
struct Call {
  std::string route, method, target, body;
  bool detail = false;  // names one resource: 404 unless it is the caller's
};

// A FHIR acknowledgement message (MedCom-style) answering the FHIR message of `notification_id`.
std::string fhir_ack(const std::string& notification_id, const std::string& code) {
  return json{{"resourceType", "Bundle"},
              {"type", "message"},
              {"entry", json::array({{{"resource",
                                       {{"resourceType", "MessageHeader"},
                                        {"response",
                                         {{"identifier", fhir_message_header_id(notification_id)},
                                          {"code", code}}}}}}})}}
      .dump();
}

std::vector<Call> calls_for(K::Kind kind) {
  const std::string nid = base64url_encode(notification(kWorldA, kind).notification_id());
  return {
      {"/api/v1/notifications", "GET", "/api/v1/notifications", "", false},
      {"/api/v1/notifications/{ref}", "GET", "/api/v1/notifications/" + nid, "", true},
      {"/api/v1/notifications/{ref}/ack", "POST", "/api/v1/notifications/" + nid + "/ack", "",
       true},
      {"/api/v1/episodes", "GET", "/api/v1/episodes", "", false},
      {"/api/v1/episodes/{id}", "GET", "/api/v1/episodes/ep-a", "", true},
      {"/api/v1/episodes/search", "POST", "/api/v1/episodes/search",
       R"({"personalId":")" + kWorldA.personal_id + R"("})", false},
      {"/api/v1/deadlines", "GET", "/api/v1/deadlines", "", false},
      {"/api/v1/statistics/discharge-ready", "GET", "/api/v1/statistics/discharge-ready", "",
       false},
      {"/api/v1/statistics/missed-deadlines", "GET", "/api/v1/statistics/missed-deadlines", "",
       false},
      {"/api/v1/statistics/payment-liability", "GET", "/api/v1/statistics/payment-liability", "",
       false},
      {"/api/v1/audit", "GET", "/api/v1/audit", "", false},
      {"/metrics", "GET", "/metrics", "", false},
      {"/api/v1/deliveries", "GET", "/api/v1/deliveries", "", false},
      {"/fhir/$process-message", "POST", "/fhir/$process-message",
       fhir_ack(notification(kWorldA, kind).notification_id(), "ok"), true},
  };
}

TEST_F(ServeApi, AccessMatrixEveryRouteRoleAndOrganisationKind) {
  const std::string absent_body = call("GET", "/api/v1/episodes/no-such-episode",
                                       token(Role::kCaseworker, org(K::WARD, kWorldA)))
                                      .body;
  const std::string fhir_absent_body =
      call("POST", "/fhir/$process-message", token(Role::kCaseworker, org(K::WARD, kWorldA)),
           fhir_ack("no-such-notification", "ok"))
          .body;
  int cells = 0;
  for (auto kind : kKinds) {
    for (Role role : kRoles) {
      for (const World* world : {&kWorldA, &kWorldB}) {
        const bool own = world == &kWorldA;  // every detail call names a resource of world A
        const OrgRef caller = org(kind, *world);
        const std::string tok = token(role, caller);
        for (const auto& c : calls_for(kind)) {
          SCOPED_TRACE(c.method + " " + c.route + " as " + role_name(role) + " of " +
                       K::Kind_Name(kind) + (own ? " (own world)" : " (other world)"));
          const size_t audits_before = audit_.size();
          const auto r = call(c.method, c.target, tok, c.body);
          ++cells;
          if (!may_use(c.route, role, kind)) {
            EXPECT_EQ(r.status, 403);
            EXPECT_EQ(audit_.size(), audits_before) << "a refused route carries nothing to audit";
            continue;
          }
          if (c.detail && !own) {
            EXPECT_EQ(r.status, 404);
            EXPECT_EQ(r.body, c.route == "/fhir/$process-message" ? fhir_absent_body : absent_body)
                << "another's resource must look absent";
          } else if (c.route == "/fhir/$process-message") {
            const bool notice = kind == K::MUNICIPALITY || kind == K::OUTPATIENT_UNIT;
            EXPECT_EQ(r.status, !notice ? 422 : kind == K::MUNICIPALITY ? 200 : 202) << r.body;
          } else if (c.route == "/api/v1/notifications/{ref}/ack") {
            const bool notice = kind == K::MUNICIPALITY || kind == K::OUTPATIENT_UNIT;
            // The municipality's notice is acknowledged already (the view says so).
            EXPECT_EQ(r.status, !notice ? 409 : kind == K::MUNICIPALITY ? 200 : 202);
          } else {
            EXPECT_EQ(r.status, 200) << r.body;
          }
          // Nothing of the other world leaks into a 200 answer.
          if (r.status == 200) {
            const World& other = own ? kWorldB : kWorldA;
            EXPECT_EQ(r.body.find(other.episode), std::string::npos) << r.body;
            EXPECT_EQ(r.body.find(other.personal_id), std::string::npos);
            if (kind == K::REGION) {
              EXPECT_EQ(r.body.find(world->personal_id), std::string::npos);
            }
          }
          // Audit completeness: exactly one record per request on a personal-data route.
          if (audited(c.route)) {
            ASSERT_EQ(audit_.size(), audits_before + 1);
            const auto& rec = audit_.back();
            EXPECT_EQ(rec["route"], c.route);
            EXPECT_EQ(rec["status"], r.status);
            EXPECT_EQ(rec["org"]["kind"], K::Kind_Name(kind));
            EXPECT_EQ(rec["org"]["id"], caller.id);
            EXPECT_EQ(rec["role"], role_name(role));
            if (r.status == 200 && c.route.find('{') != std::string::npos) {
              EXPECT_EQ(rec["episodeIds"], json::array({"ep-a"}));
            }
            EXPECT_EQ(to_json(parse_audit_record(rec.dump()).value()).find(kWorldA.personal_id),
                      std::string::npos);
          } else {
            EXPECT_EQ(audit_.size(), audits_before);
          }
        }
      }
    }
  }
  EXPECT_EQ(cells, 4 * 4 * 2 * 14);
}

TEST_F(ServeApi, NoTokenBadTokenAndUnknownRoutes) {
  EXPECT_EQ(call("GET", "/api/v1/episodes", "").status, 401);
  EXPECT_EQ(call("GET", "/api/v1/episodes", "garbage").status, 401);
  const auto tok = token(Role::kCaseworker, org(K::WARD, kWorldA));
  EXPECT_EQ(call("GET", "/api/v1/nothing", tok).status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/episodes", tok).status, 405);
  EXPECT_EQ(call("GET", "/healthz", "").status, 200);
  EXPECT_EQ(call("GET", "/readyz", "").status, 200);
  const auto doc = json::parse(call("GET", "/openapi.json", "").body);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  EXPECT_TRUE(doc["paths"].contains("/api/v1/notifications/{ref}/ack"));
  // Every route of the matrix is in the document.
  for (const auto& c : calls_for(K::WARD)) {
    if (c.route != "/metrics") {
      EXPECT_TRUE(doc["paths"].contains(c.route)) << c.route;
    }
  }
}

// The FHIR route refuses in FHIR: a FHIR client reads an OperationOutcome, whatever stopped it.
TEST_F(ServeApi, TheFhirRouteRefusesWithAnOperationOutcome) {
  const std::string route = "/fhir/$process-message";
  const std::string body = fhir_ack(notification(kWorldA, K::MUNICIPALITY).notification_id(), "ok");
  const auto header = [](const HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return std::string();
  };
  const auto issue = [](const HttpResponse& r) {
    EXPECT_EQ(r.content_type, "application/fhir+json");
    const json j = json::parse(r.body, nullptr, false);
    EXPECT_EQ(j.value("resourceType", ""), "OperationOutcome") << r.body;
    return j.contains("issue") ? j["issue"][0] : json::object();
  };
  const auto none = call("POST", route, "", body);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(issue(none)["code"], "login");
  EXPECT_EQ(header(none, "WWW-Authenticate"), "Bearer");
  const auto bad = call("POST", route, "garbage", body);
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(issue(bad)["code"], "login");
  const auto auditor =
      call("POST", route, token(Role::kAuditor, org(K::MUNICIPALITY, kWorldA)), body);
  EXPECT_EQ(auditor.status, 403);
  EXPECT_EQ(issue(auditor)["code"], "forbidden");
  EXPECT_EQ(issue(auditor)["diagnostics"], "this role may not use this route");
  const auto get = call("GET", route, token(Role::kCaseworker, org(K::MUNICIPALITY, kWorldA)));
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(issue(get)["code"], "not-supported");
  EXPECT_EQ(header(get, "Allow"), "POST");
  // The other routes keep their JSON errors.
  EXPECT_EQ(json::parse(call("GET", "/api/v1/episodes", "").body)["error"], "unauthorized");
}

TEST_F(ServeApi, MappedClientCertificateAuthenticatesAsItsOrganisation) {
  // Without a token, the mapped certificate is municipality A's caseworker (spaces as a config
  // may write them).
  client_subject_ = "CN=case-system, O=Municipality A, C=SE";
  const auto r = call("GET", "/api/v1/episodes/ep-a", "");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(kWorldA.personal_id), std::string::npos);
  ASSERT_FALSE(audit_.empty());
  EXPECT_EQ(audit_.back()["subject"], "case-system-a");
  EXPECT_EQ(audit_.back()["org"]["id"], "0180");
  EXPECT_EQ(call("GET", "/api/v1/episodes/ep-b", "").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/audit", "").status, 403);  // a caseworker, as mapped
  // A token wins over the certificate: municipality B's token does not see A's episode.
  EXPECT_EQ(
      call("GET", "/api/v1/episodes/ep-a", token(Role::kCaseworker, org(K::MUNICIPALITY, kWorldB)))
          .status,
      404);
  // An unmapped certificate, or none, authenticates no one.
  client_subject_ = "CN=case-system,O=Municipality B,C=SE";
  EXPECT_EQ(call("GET", "/api/v1/episodes/ep-a", "").status, 401);
  client_subject_.reset();
  EXPECT_EQ(call("GET", "/api/v1/episodes/ep-a", "").status, 401);
}

TEST_F(ServeApi, AnAuditorSeesItsOwnOrganisationsAccessesAndARegionAlsoThoseToItsEpisodes) {
  // Municipality A reads its episode (region 01), municipality B its own (region 14), region 01's
  // coordinator reads A's. The records come back through the audit topic into the read model.
  ASSERT_EQ(
      call("GET", "/api/v1/episodes/ep-a", token(Role::kCaseworker, org(K::MUNICIPALITY, kWorldA)))
          .status,
      200);
  ASSERT_EQ(
      call("GET", "/api/v1/episodes/ep-b", token(Role::kCaseworker, org(K::MUNICIPALITY, kWorldB)))
          .status,
      200);
  ASSERT_EQ(call("GET", "/api/v1/episodes/ep-a", token(Role::kCoordinator, org(K::REGION, kWorldA)))
                .status,
            200);
  std::vector<Record> records;
  {
    std::lock_guard lock(mu_);
    ASSERT_EQ(audit_.size(), 3u);
    EXPECT_EQ(audit_[0]["regions"], json::array({kWorldA.region}));
    EXPECT_EQ(audit_[1]["regions"], json::array({kWorldB.region}));
    for (size_t i = 0; i < audit_.size(); ++i) {
      records.push_back({model_->topics().audit, 0, static_cast<int64_t>(1000 + i), audit_keys_[i],
                         audit_[i].dump()});
    }
  }
  ASSERT_TRUE(model_->apply(records));
  const auto seen = [&](Role role, const OrgRef& who) {
    const auto r = call("GET", "/api/v1/audit", token(role, who));
    EXPECT_EQ(r.status, 200) << r.body;
    std::multiset<std::string> accesses;  // "who read which episode"
    const json body = json::parse(r.body);
    for (const auto& item : body["items"]) {
      accesses.insert(item["org"]["id"].get<std::string>() + " read " +
                      item["episodeIds"][0].get<std::string>());
    }
    return accesses;
  };
  // Region 01: its own access and municipality A's to its episode; nothing of region 14's.
  EXPECT_EQ(seen(Role::kAuditor, org(K::REGION, kWorldA)),
            (std::multiset<std::string>{"0180 read ep-a", "01 read ep-a"}));
  EXPECT_EQ(seen(Role::kAuditor, org(K::REGION, kWorldB)),
            (std::multiset<std::string>{"1480 read ep-b"}));
  // A municipality's auditor: its own callers' accesses only.
  EXPECT_EQ(seen(Role::kAuditor, org(K::MUNICIPALITY, kWorldA)),
            (std::multiset<std::string>{"0180 read ep-a"}));
  EXPECT_EQ(seen(Role::kAuditor, org(K::MUNICIPALITY, kWorldB)),
            (std::multiset<std::string>{"1480 read ep-b"}));
  // Each read of the audit log is audited itself (who saw whose accesses), naming the episodes the
  // records it showed name.
  std::lock_guard lock(mu_);
  ASSERT_EQ(audit_.size(), 3u + 4u);
  for (size_t i = 3; i < audit_.size(); ++i) {
    EXPECT_EQ(audit_[i]["route"], "/api/v1/audit");
    EXPECT_EQ(audit_[i]["role"], role_name(Role::kAuditor));
  }
  EXPECT_EQ(audit_[3]["episodeIds"], json::array({"ep-a"}));
  EXPECT_EQ(audit_[3]["regions"], json::array({kWorldA.region}));
  EXPECT_EQ(audit_[4]["episodeIds"], json::array({"ep-b"}));
}

TEST_F(ServeApi, IdentityNumberNeverInTheUrl) {
  const auto tok = token(Role::kCaseworker, org(K::WARD, kWorldA));
  const auto r = call("GET", "/api/v1/episodes?personalId=" + kWorldA.personal_id, tok);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body.find(kWorldA.personal_id), std::string::npos);
  const auto bad = call("POST", "/api/v1/episodes/search", tok, R"({"personalId":"123"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body.find("123"), std::string::npos);
}

TEST_F(ServeApi, AuditUnavailableMeansNoAnswerWithPersonalData) {
  audit_down_ = true;
  const auto tok = token(Role::kCaseworker, org(K::MUNICIPALITY, kWorldA));
  const auto auditor = token(Role::kAuditor, org(K::MUNICIPALITY, kWorldA));
  for (const auto& c : calls_for(K::MUNICIPALITY)) {
    if (!audited(c.route)) continue;
    const auto r = call(c.method, c.target, c.route == "/api/v1/audit" ? auditor : tok, c.body);
    EXPECT_EQ(r.status, 503) << c.route;
    EXPECT_EQ(r.body.find(kWorldA.personal_id), std::string::npos);
    EXPECT_EQ(r.body.find("ep-a"), std::string::npos);
  }
  // Absent and present look alike here too: both 503.
  EXPECT_EQ(call("GET", "/api/v1/episodes/no-such", tok).status, 503);
  // Statistics carry no personal data and are not audited.
  EXPECT_EQ(call("GET", "/api/v1/statistics/payment-liability",
                 token(Role::kCoordinator, org(K::MUNICIPALITY, kWorldA)))
                .status,
            200);
}

TEST_F(ServeApi, AcknowledgementPublishesOneIdempotentEvent) {
  const OrgRef unit = org(K::OUTPATIENT_UNIT, kWorldA);
  const auto tok = token(Role::kCaseworker, unit);
  const std::string nid = notification(kWorldA, K::OUTPATIENT_UNIT).notification_id();
  const std::string ref = base64url_encode(nid);
  const auto first = call("POST", "/api/v1/notifications/" + ref + "/ack", tok);
  ASSERT_EQ(first.status, 202) << first.body;
  const auto second = call("POST", "/api/v1/notifications/" + ref + "/ack", tok);
  ASSERT_EQ(second.status, 202);
  ASSERT_EQ(published_.size(), 2u);
  EXPECT_EQ(published_[0].event_id(), published_[1].event_id());  // one event to the engine
  EXPECT_EQ(published_[0].event_id(), ack_event_id(nid, unit));
  EXPECT_NE(ack_event_id(nid, unit), ack_event_id(nid, org(K::MUNICIPALITY, kWorldA)));
  EXPECT_EQ(published_[0].episode_id(), "ep-a");
  EXPECT_EQ(published_[0].notice_acknowledged().notification_id(), nid);
  EXPECT_EQ(published_[0].notice_acknowledged().by().id(), "vc-a");
  EXPECT_LE(published_[0].event_id().size(), 256u);
  publish_down_ = true;
  EXPECT_EQ(call("POST", "/api/v1/notifications/" + ref + "/ack", tok).status, 503);
  // A ref that is not base64url, or names nothing, is absent.
  EXPECT_EQ(call("GET", "/api/v1/notifications/" + nid, tok).status, 404);
}

// A month whose only liable stay had no daily rate (the rule set lacks the year's): no amount is
// known, which is not 0 kronor. null in JSON, an empty field in CSV.
TEST_F(ServeApi, PaymentLiabilityWithoutADailyRateHasNoAmount) {
  const auto tok = token(Role::kCoordinator, org(K::MUNICIPALITY, kWorldA));
  v1::EpisodeView later = view(kWorldA);
  later.set_episode_id("ep-a-april");
  *later.mutable_discharged_at() = to_proto(at("2025-04-20T10:00:00Z"));
  later.mutable_liability()->clear_amount_sek();
  ASSERT_TRUE(model_->apply(
      {Record{model_->topics().episodes, 0, 1000, "ep-a-april", later.SerializeAsString()}}));
  const auto rows = json::parse(call("GET", "/api/v1/statistics/payment-liability", tok).body);
  ASSERT_EQ(rows["items"].size(), 2u) << rows.dump();
  EXPECT_EQ(rows["items"][0]["amountSek"], 37200);
  EXPECT_EQ(rows["items"][1]["month"], "2025-04");
  EXPECT_TRUE(rows["items"][1]["amountSek"].is_null()) << rows.dump();
  EXPECT_EQ(rows["items"][1]["staysWithoutAmount"], 1);
  EXPECT_EQ(call("GET", "/api/v1/statistics/payment-liability?format=csv", tok).body,
            "municipality,month,liableStays,days,amountSek,staysWithoutAmount\n"
            "\"0180\",2025-03,1,4,37200,0\n"
            "\"0180\",2025-04,1,4,,1\n");
}

TEST_F(ServeApi, InboxPagingFiltersAndStatisticsCsv) {
  const auto tok = token(Role::kCoordinator, org(K::MUNICIPALITY, kWorldA));
  auto inbox = json::parse(call("GET", "/api/v1/notifications?limit=1", tok).body);
  ASSERT_EQ(inbox["items"].size(), 1u);
  EXPECT_EQ(inbox["nextOffset"], 1);
  EXPECT_EQ(inbox["items"][0]["acknowledged"], false);  // unacknowledged first
  EXPECT_EQ(call("GET", "/api/v1/notifications?limit=0", tok).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/notifications?from=yesterday", tok).status, 400);
  EXPECT_EQ(inbox["total"], 2);
  EXPECT_EQ(inbox["unacknowledged"], 0);  // its one notice is acknowledged; the rest is not one
  EXPECT_EQ(inbox["units"], json::array({kWorldA.municipality}));
  EXPECT_EQ(inbox["services"], json::array({"SOCIAL_SERVICES"}));
  EXPECT_EQ(
      json::parse(
          call("GET", "/api/v1/notifications?service=MUNICIPAL_HEALTH_CARE", tok).body)["total"],
      0);
  EXPECT_EQ(call("GET", "/api/v1/notifications?service=home", tok).status, 400);
  auto unit =
      json::parse(call("GET", "/api/v1/notifications?unit=" + kWorldA.municipality, tok).body);
  ASSERT_EQ(unit["items"].size(), 1u);
  EXPECT_EQ(unit["total"], 1);
  EXPECT_EQ(unit["items"][0]["notification"]["notificationId"], "ep-a/e/adm/MUNICIPALITY");
  auto acked = json::parse(call("GET", "/api/v1/notifications?acknowledged=true", tok).body);
  ASSERT_EQ(acked["items"].size(), 1u);
  EXPECT_EQ(acked["items"][0]["notification"]["notificationId"], "ep-a/e/adm/MUNICIPALITY");
  const auto csv = call("GET", "/api/v1/statistics/payment-liability?format=csv", tok);
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(csv.body,
            "municipality,month,liableStays,days,amountSek,staysWithoutAmount\n"
            "\"0180\",2025-03,1,4,37200,0\n");
  auto episode = json::parse(call("GET", "/api/v1/episodes/ep-a", tok).body);
  ASSERT_EQ(episode["deadlines"].size(), 3u);
  EXPECT_EQ(episode["deadlines"][0]["status"], "met");
  EXPECT_EQ(episode["deadlines"][1]["status"], "missed");
  EXPECT_EQ(episode["deadlines"][2]["status"], "at_risk");  // due 2030-01-01, now 12 h before
  EXPECT_EQ(episode["patient"]["personalId"], kWorldA.personal_id);
  EXPECT_EQ(episode.dump().find("MISSING_CONSENT"), std::string::npos)
      << "a held notice must not reach its would-be recipient";
  auto ward_view = json::parse(
      call("GET", "/api/v1/episodes/ep-a", token(Role::kCaseworker, org(K::WARD, kWorldA))).body);
  EXPECT_NE(ward_view.dump().find("MISSING_CONSENT"), std::string::npos);
  auto region = json::parse(
      call("GET", "/api/v1/episodes/ep-a", token(Role::kCoordinator, org(K::REGION, kWorldA)))
          .body);
  EXPECT_FALSE(region.contains("patient"));
  auto deadlines = json::parse(call("GET", "/api/v1/deadlines?state=missed", tok).body);
  ASSERT_EQ(deadlines["items"].size(), 1u);
  EXPECT_EQ(deadlines["items"][0]["kind"], "SIP_INVITATION");
  EXPECT_EQ(call("GET", "/api/v1/deadlines?state=bogus", tok).status, 400);
}

// A FHIR acknowledgement (MedCom's ok / transient-error / fatal-error) of a notice sent as a FHIR
// message: ok is the kvittens (the same event as POST .../ack), an error code is recorded and
// acknowledges nothing, malformed messages are refused without quoting them.
TEST_F(ServeApi, FhirAcknowledgementMessageOkIsTheKvittensAndErrorsAreNot) {
  const OrgRef vc = org(K::OUTPATIENT_UNIT, kWorldA);
  const auto tok = token(Role::kCaseworker, vc);
  const std::string nid = notification(kWorldA, K::OUTPATIENT_UNIT).notification_id();
  auto post = [&](const std::string& body) {
    return call("POST", "/fhir/$process-message", tok, body);
  };
  auto failed = post(fhir_ack(nid, "transient-error"));
  EXPECT_EQ(failed.status, 200) << failed.body;
  EXPECT_EQ(failed.content_type, "application/fhir+json");
  EXPECT_EQ(json::parse(failed.body)["issue"][0]["severity"], "warning");
  EXPECT_TRUE(published_.empty()) << "an error code is not an acknowledgement";
  EXPECT_EQ(audit_.back()["outcome"], "receiver_transient-error");
  EXPECT_EQ(audit_.back()["episodeIds"], json::array({kWorldA.episode}));
  auto ok = post(fhir_ack(nid, "ok"));
  EXPECT_EQ(ok.status, 202) << ok.body;
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].notice_acknowledged().notification_id(), nid);
  EXPECT_EQ(published_[0].notice_acknowledged().by().id(), vc.id);
  EXPECT_EQ(published_[0].event_id(), ack_event_id(nid, vc));  // the same as POST .../ack
  // A receiver that writes the UUID in upper case (RFC 9562 allows it) names the same message.
  std::string upper = fhir_ack(nid, "ok");
  const std::string id = fhir_message_header_id(nid);
  std::string id_upper = id;
  for (char& c : id_upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  upper.replace(upper.find(id), id.size(), id_upper);
  EXPECT_EQ(post(upper).status, 202);
  ASSERT_EQ(published_.size(), 2u);
  EXPECT_EQ(published_[1].event_id(), published_[0].event_id());
  // Malformed: 400 OperationOutcome, nothing published, the request never quoted.
  for (const std::string& bad :
       {std::string("{not json"), std::string(R"({"resourceType":"Patient"})"),
        std::string(R"({"resourceType":"Bundle","type":"message","entry":[]})"),
        std::string(R"({"resourceType":"Bundle","type":"message","entry":[{"resource":)"
                    R"({"resourceType":"MessageHeader"}}]})"),
        fhir_ack(nid, "maybe-SECRET")}) {
    SCOPED_TRACE(bad);
    auto r = post(bad);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(json::parse(r.body)["resourceType"], "OperationOutcome");
    EXPECT_EQ(r.body.find("SECRET"), std::string::npos);
  }
  EXPECT_EQ(published_.size(), 2u);
  // Another organisation's notice looks absent.
  EXPECT_EQ(post(fhir_ack(notification(kWorldA, K::MUNICIPALITY).notification_id(), "ok")).status,
            404);
}

// A notification's delivery to the caller's own systems, and the deliveries route: an
// organisation sees its own endpoints, the operator every endpoint, another organisation nothing.
TEST_F(ServeApi, DeliveryStatusPerNotificationAndTheDeliveriesRoute) {
  const OrgRef mun = org(K::MUNICIPALITY, kWorldA);
  const std::string nid = notification(kWorldA, K::MUNICIPALITY).notification_id();
  auto status = [&](const std::string& endpoint, v1::DeliveryStatus::State state,
                    const std::string& code) {
    v1::DeliveryStatus d;
    d.set_notification_id(nid);
    d.set_endpoint(endpoint);
    d.mutable_organisation()->set_kind(mun.kind);
    d.mutable_organisation()->set_id(mun.id);
    d.set_state(state);
    d.set_attempts(14);
    d.set_last_status(503);
    d.set_code(code);
    d.set_reason("HTTP 503");
    d.set_at_unix(to_unix(at("2025-03-06T10:00:00Z")));
    d.set_episode_id(kWorldA.episode);
    return Record{model_->topics().delivery_status, 0, endpoint == "case" ? 0 : 1,
                  nid + "/" + endpoint, d.SerializeAsString()};
  };
  ASSERT_TRUE(model_->apply({status("case", v1::DeliveryStatus::DEAD_LETTERED, "exhausted"),
                             status("fhir", v1::DeliveryStatus::DELIVERED, "")}));
  const auto tok = token(Role::kCaseworker, mun);
  auto one = json::parse(call("GET", "/api/v1/notifications/" + base64url_encode(nid), tok).body);
  ASSERT_EQ(one["delivery"].size(), 2u);
  EXPECT_EQ(one["delivery"][0]["endpoint"], "case");
  EXPECT_EQ(one["delivery"][0]["state"], "dead_lettered");
  EXPECT_EQ(one["delivery"][0]["code"], "exhausted");
  EXPECT_EQ(one["delivery"][0]["attempts"], 14);
  EXPECT_EQ(one["delivery"][0]["at"], "2025-03-06T10:00:00Z");
  EXPECT_EQ(one["delivery"][1]["state"], "delivered");
  auto dead = json::parse(call("GET", "/api/v1/deliveries?state=dead_lettered", tok).body);
  ASSERT_EQ(dead["items"].size(), 1u);
  EXPECT_EQ(dead["items"][0]["notificationId"], nid);
  EXPECT_EQ(dead["items"][0]["ref"], base64url_encode(nid));
  EXPECT_EQ(audit_.back()["episodeIds"], json::array({kWorldA.episode}));
  const auto op = token(Role::kOperator, org(K::REGION, kWorldB));
  EXPECT_EQ(json::parse(call("GET", "/api/v1/deliveries", op).body)["items"].size(), 2u);
  const auto other = token(Role::kCaseworker, org(K::MUNICIPALITY, kWorldB));
  EXPECT_TRUE(json::parse(call("GET", "/api/v1/deliveries", other).body)["items"].empty());
  EXPECT_EQ(call("GET", "/api/v1/deliveries?state=lost", tok).status, 400);
  // The outpatient unit's notice has no delivery: an empty list, not an absent field.
  const auto vc = token(Role::kCaseworker, org(K::OUTPATIENT_UNIT, kWorldA));
  const std::string vc_ref =
      base64url_encode(notification(kWorldA, K::OUTPATIENT_UNIT).notification_id());
  EXPECT_EQ(json::parse(call("GET", "/api/v1/notifications/" + vc_ref, vc).body)["delivery"],
            json::array());
}

}  // namespace
}  // namespace samordna::serve
