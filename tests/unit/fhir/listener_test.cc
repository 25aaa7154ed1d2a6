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
