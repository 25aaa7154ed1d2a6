// The FHIR routes without a socket (Router::handle) over an in-process store with a fake publisher
// that can refuse: 2xx only when durable, 503 + Retry-After otherwise (and nothing remembered, so
// the retry publishes), the same resource twice publishes once, errors as OperationOutcome.
#include "connectors/fhir/listener.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace samordna::fhir {
namespace {

using json = nlohmann::json;

json encounter() {
  return {{"resourceType", "Encounter"},
          {"id", "E1"},
          {"status", "in-progress"},
          {"class", {{"code", "IMP"}}},
          {"subject", {{"reference", "Patient/p"}}},
          {"period", {{"start", "2025-01-02T10:00:00Z"}}},
          {"location", json::array({{{"location", {{"identifier", {{"value", "W1"}}}}}}})}};
}
json patient() {
  return {{"resourceType", "Patient"},
          {"id", "p"},
          {"identifier",
           json::array({{{"system", "urn:oid:1.2.752.129.2.1.3.1"}, {"value", "191212121212"}}})},
          {"address", json::array({{{"district", "0380"}}})}};
}
json bundle() {
  return {{"resourceType", "Bundle"},
          {"type", "transaction"},
          {"entry", json::array({{{"resource", patient()}},
                                 {{"resource", encounter()},
                                  {"request", {{"method", "PUT"}, {"url", "Encounter/E1"}}}}})}};
}

struct Fixture : ::testing::Test {
  bool durable = true;
  std::vector<std::vector<v1::Event>> published;
  InProcessStore store{[this](std::vector<v1::Event> ev, std::function<void(bool)> done) {
    if (durable) published.push_back(ev);
    done(durable);
  }};
  http::Router router;
  Fixture() { add_routes(router, ListenerOptions{}, store); }

  http::Response call(std::string method, std::string target, std::string body,
                      std::string type = "application/fhir+json") {
    http::Request r;
    r.method = std::move(method);
    EXPECT_TRUE(http::parse_target(target, r.path, r.query));
    r.body = std::move(body);
    if (!type.empty()) r.headers.emplace_back("content-type", type);
    return router.handle(std::move(r));
  }
};

TEST_F(Fixture, MetadataIsACapabilityStatement) {
  auto r = call("GET", "/fhir/metadata", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["resourceType"], "CapabilityStatement");
}

TEST_F(Fixture, TransactionPublishesOnceAndAnswersABundle) {
  auto r = call("POST", "/fhir", bundle().dump());
  ASSERT_EQ(r.status, 200) << r.body;
  json b = json::parse(r.body);
  EXPECT_EQ(b["type"], "transaction-response");
  EXPECT_EQ(b["entry"][0]["response"]["status"], "200 OK");
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].at(0).admitted().patient().home_municipality(), "0380");
  r = call("POST", "/fhir", bundle().dump());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(published.size(), 1u);  // nothing new
}

TEST_F(Fixture, NotDurableIs503WithRetryAfterAndTheRetryPublishes) {
  durable = false;
  auto r = call("POST", "/fhir", bundle().dump());
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("Retry-After").value_or(""), "5");
  EXPECT_EQ(json::parse(r.body)["issue"][0]["code"], "transient");
  durable = true;
  r = call("POST", "/fhir", bundle().dump());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(published.size(), 1u);
}

TEST_F(Fixture, PutAndPostAnswerWithLocation) {
  json contained = encounter();
  contained["subject"] = {{"reference", "#p"}};
  json p = patient();
  contained["contained"] = json::array({p});
  auto r = call("PUT", "/fhir/Encounter/E1", contained.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("Location").value_or(""), "/fhir/Encounter/E1");
  contained["id"] = "E2";
  r = call("POST", "/fhir/Encounter", contained.dump());
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(published.size(), 2u);
}

TEST_F(Fixture, ErrorsAreOperationOutcomesWithoutValues) {
  auto r = call("PUT", "/fhir/Encounter/E1", encounter().dump());  // Patient/p not sent along
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(json::parse(r.body)["resourceType"], "OperationOutcome");
  json bad = bundle();
  bad["entry"][0]["resource"]["identifier"][0]["value"] = "191212121213";
  r = call("POST", "/fhir", bad.dump());
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(r.body.find("19121212121"), std::string::npos) << r.body;
  r = call("POST", "/fhir", bundle().dump(), "text/plain");
  EXPECT_EQ(r.status, 415);
  r = call("GET", "/fhir/Patient/p", "");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body)["resourceType"], "OperationOutcome");
  r = call("DELETE", "/fhir/Encounter/E1", "");
  EXPECT_EQ(r.status, 405);
  EXPECT_TRUE(published.empty());
}

// Per-sender settings (issue 10 item 3): meta.source picks an entry; each sender's events carry
// its own source, its memory is its own, and a certificate-bound entry answers only to the
// certificate the handshake verified.
TEST(ListenerSenders, EachRequestGetsItsSendersSettings) {
  std::vector<v1::Event> published;
  InProcessStore store{[&](std::vector<v1::Event> ev, std::function<void(bool)> done) {
    for (auto& e : ev) published.push_back(std::move(e));
    done(true);
  }};
  ListenerOptions options;
  SenderOverride lasarett;
  lasarett.source = "urn:oid:1.2.752.29.4.99";
  lasarett.config.sender = "lasarett";
  lasarett.config.episode_prefix = "LAS:";
  options.senders.senders.push_back(lasarett);
  SenderOverride uas;
  uas.client = "CN=cosmic.uas.se";
  uas.config.sender = "uas";
  uas.config.episode_prefix = "UAS:";
  options.senders.senders.push_back(uas);
  http::Router router;
  add_routes(router, options, store);
  auto post = [&](json body, std::optional<std::string> client) {
    http::Request r;
    r.method = "POST";
    r.path = "/fhir";
    r.body = body.dump();
    r.tls_peer_subject = std::move(client);
    return router.handle(std::move(r));
  };
  json from_lasarett = bundle();
  from_lasarett["meta"] = {{"source", "urn:oid:1.2.752.29.4.99"}};
  ASSERT_EQ(post(from_lasarett, std::nullopt).status, 200);
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].source(), "fhir:lasarett");
  EXPECT_EQ(published[0].episode_id(), "LAS:E1");
  // The same encounter from the default sender is another sender's: its own memory, its events.
  ASSERT_EQ(post(bundle(), std::nullopt).status, 200);
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[1].source(), "fhir:default");
  EXPECT_EQ(published[1].episode_id(), "E1");
  // The certificate's entry; meta.source cannot claim it without the certificate.
  ASSERT_EQ(post(bundle(), std::string("CN=cosmic.uas.se")).status, 200);
  ASSERT_EQ(published.size(), 3u);
  EXPECT_EQ(published[2].source(), "fhir:uas");
  EXPECT_EQ(published[2].episode_id(), "UAS:E1");
  // Each one again: each sender's memory knows its own, nothing new.
  EXPECT_EQ(post(from_lasarett, std::nullopt).status, 200);
  EXPECT_EQ(post(bundle(), std::nullopt).status, 200);
  EXPECT_EQ(post(bundle(), std::string("CN=cosmic.uas.se")).status, 200);
  EXPECT_EQ(published.size(), 3u);
  EXPECT_FALSE(store.known("lasarett/LAS:E1").ids.empty());
  EXPECT_FALSE(store.known("default/E1").ids.empty());
  EXPECT_FALSE(store.known("uas/UAS:E1").ids.empty());
}

// New patient data (issue 10 item 1, FHIR): the Patient carried again with a new meta.lastUpdated
// makes patientDataUpdated for the known admission; the version the admission carried, sent
// again, makes nothing.
TEST_F(Fixture, ANewPatientVersionMakesPatientDataUpdated) {
  json b = bundle();
  b["entry"][0]["resource"]["meta"] = {{"lastUpdated", "2025-01-02T09:00:00Z"}};
  ASSERT_EQ(call("POST", "/fhir", b.dump()).status, 200);
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].size(), 1u);  // admitted only
  ASSERT_EQ(call("POST", "/fhir", b.dump()).status, 200);
  EXPECT_EQ(published.size(), 1u);  // the same version: nothing
  b["entry"][0]["resource"]["meta"] = {{"lastUpdated", "2025-01-02T12:00:00Z"}};
  b["entry"][0]["resource"]["name"] =
      json::array({{{"use", "official"}, {"family", "Tolvansson"}, {"given", {"Tolvan"}}}});
  b["entry"][0]["resource"]["address"] = json::array({{{"line", {"Gatan 1"}},
                                                       {"postalCode", "75320"},
                                                       {"city", "Uppsala"},
                                                       {"district", "0380"}}});
  ASSERT_EQ(call("POST", "/fhir", b.dump()).status, 200);
  ASSERT_EQ(published.size(), 2u);
  ASSERT_EQ(published[1].size(), 1u);
  const v1::Event& e = published[1][0];
  EXPECT_EQ(e.event_id(), "E1/patient/1735819200");  // 2025-01-02T12:00:00Z
  EXPECT_EQ(e.patient_data_updated().name(), "Tolvan Tolvansson");
  EXPECT_EQ(e.patient_data_updated().address(), "Gatan 1, 75320 Uppsala");
  EXPECT_EQ(e.occurred_at().seconds(), 1735819200);
  ASSERT_EQ(call("POST", "/fhir", b.dump()).status, 200);
  EXPECT_EQ(published.size(), 2u);  // that version again: nothing
}

// A store whose compare-and-set always loses: the answer asks for a resend, nothing is published.
struct LosingStore : SnapshotStore {
  Snapshot known(const std::string&) const override { return {}; }
  void commit(std::vector<v1::Event>, std::vector<SnapshotUpdate>,
              std::function<void(Status)> done) override {
    done(Status::kConflict);
  }
};

TEST(ListenerConflict, ConcurrentWriteOfTheSameEncounterIs503RetryAfter1) {
  LosingStore store;
  http::Router router;
  add_routes(router, ListenerOptions{}, store);
  http::Request r;
  r.method = "POST";
  r.path = "/fhir";
  r.body = bundle().dump();
  http::Response res = router.handle(std::move(r));
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.header("Retry-After").value_or(""), "1");
  EXPECT_EQ(json::parse(res.body)["issue"][0]["code"], "conflict");
}

}  // namespace
}  // namespace samordna::fhir
