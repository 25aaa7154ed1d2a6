// deliver's config (connectors/deliver/config.h): a full config reads; every broken one names the
// file and the line and never quotes a secret.

#include "connectors/deliver/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace samordna::deliver {
namespace {

class DeliverConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("samordna-deliver-config-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "s1") << "whsec_" << base64_encode(std::string(32, 'a')) << "\n";
    std::ofstream(dir_ / "s2") << "whsec_" << base64_encode(std::string(32, 'b'));
    std::ofstream(dir_ / "bad") << "not-a-secret-at-all";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  Result<DeliverConfig> parse(const std::string& text) {
    return parse_deliver_config(text, dir_ / "deliver.yaml");
  }
  std::filesystem::path dir_;
};

constexpr const char* kGood = R"(kafka:
  bootstrap: 127.0.0.1:19092
  properties:
    security.protocol: plaintext
topics:
  status: my.status
endpoints:
  - name: kommun-0180
    organisation: municipality:0180
    host: hooks.example.se
    path: /samordna
    secretFiles: [s1, s2]
    format: fhir
    kinds: [admissionNotice, dischargeReadyNotice]
    caFile: ca.pem
    timeoutMs: 5000
    concurrency: 2
  - name: vc-1
    organisation: outpatient_unit:vc-1
    host: 127.0.0.1
    port: 8443
    tls: false
    secretFiles: [/abs/nothing/s1]
)";

TEST_F(DeliverConfigTest, AFullConfigReads) {
  std::string text = kGood;
  text.replace(text.find("/abs/nothing/s1"), 15, (dir_ / "s1").string());
  auto c = parse(text);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c.value().bootstrap, "127.0.0.1:19092");
  EXPECT_EQ(c.value().status_topic, "my.status");
  EXPECT_EQ(c.value().deadletter_topic, "samordna.delivery.deadletter");
  ASSERT_EQ(c.value().endpoints.size(), 2u);
  const auto& e = c.value().endpoints[0];
  EXPECT_EQ(e.name, "kommun-0180");
  EXPECT_EQ(e.organisation.kind(), v1::Organisation::MUNICIPALITY);
  EXPECT_EQ(e.organisation.id(), "0180");
  EXPECT_EQ(e.endpoint.port, 443);
  EXPECT_TRUE(e.endpoint.tls);
  EXPECT_EQ(e.secrets.size(), 2u);
  EXPECT_EQ(e.format, Format::kFhir);
  EXPECT_EQ(e.client.ca_file, (dir_ / "ca.pem").string());  // relative to the config's folder
  EXPECT_EQ(e.concurrency, 2);
  EXPECT_EQ(c.value().endpoints[1].endpoint.port, 8443);
  EXPECT_FALSE(c.value().endpoints[1].endpoint.tls);
}

TEST_F(DeliverConfigTest, BrokenConfigsNameFileAndLine) {
  const std::string head =
      "endpoints:\n  - name: a\n    organisation: municipality:0180\n"
      "    host: h\n    secretFiles: [s1]\n";
  struct Case {
    std::string text;
    int line;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"endpoints: [", 1, "not valid YAML"},
      {"endpoint: []\n", 1, "unknown key 'endpoint'"},
      {"endpoints: []\n", 1, "no endpoints"},
      {head + "    format: xml\n", 6, "json or fhir"},
      {head + "    kinds: [admissionNotic]\n", 6, "unknown notification kind"},
      {head + "    port: 70000\n", 6, "between 1 and 65535"},
      {head + "    tls: false\n", 2, "loopback only"},
      {head + "    colour: red\n", 6, "unknown key 'colour'"},
      {head + "    \"colour sasl.password: hunter2\": 1\n", 6, "not a plain name"},
      {head + "    clientCertFile: c.pem\n", 2, "go together"},
      {head + "    path: nope\n", 6, "must start with /"},
      {"endpoints:\n  - name: a\n    organisation: county:1\n", 3, "kind:id"},
      {"endpoints:\n  - name: a b\n", 2, "'name'"},
      {"endpoints:\n  - name: a\n    organisation: municipality:0180\n    host: h\n"
       "    secretFiles: [bad]\n",
       5, "not a secret"},
      {"endpoints:\n  - name: a\n    organisation: municipality:0180\n    host: h\n"
       "    secretFiles: [missing]\n",
       5, "cannot read"},
      {"endpoints:\n  - name: a\n    organisation: municipality:0180\n    host: h\n", 2,
       "needs 'secretFiles'"},
      {head + head.substr(11), 6, "used twice"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.text);
    ASSERT_FALSE(r) << c.text;
    const std::string where = (dir_ / "deliver.yaml").string() + ":" + std::to_string(c.line) + ":";
    EXPECT_EQ(r.error().message.rfind(where, 0), 0u) << r.error().message;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("not-a-secret"), std::string::npos);
    EXPECT_EQ(r.error().message.find("hunter2"), std::string::npos);
  }
}

TEST_F(DeliverConfigTest, OrganisationsAndKinds) {
  v1::Organisation o;
  ASSERT_TRUE(parse_organisation("outpatient_unit:vc-1", o));
  EXPECT_EQ(o.kind(), v1::Organisation::OUTPATIENT_UNIT);
  EXPECT_EQ(organisation_text(o), "outpatient_unit:vc-1");
  EXPECT_FALSE(parse_organisation("ward:", o));
  EXPECT_FALSE(parse_organisation("0180", o));
  v1::Notification n;
  EXPECT_EQ(notification_kind(n), "");
  n.mutable_deadline_missed();
  EXPECT_EQ(notification_kind(n), "deadlineMissed");
}

}  // namespace
}  // namespace samordna::deliver
