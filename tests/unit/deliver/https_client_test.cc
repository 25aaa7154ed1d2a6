// The webhook client against the project's HTTP server (connectors/http) on the loopback, with a
// throw-away CA (tests/unit/http/make_test_ca.sh): a signed POST arrives with its headers and
// verifies; Retry-After and statuses come back; a server whose certificate does not chain to the
// configured CA is refused; a server that requires a client certificate gets one.

#include "connectors/deliver/https_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "connectors/deliver/signature.h"
#include "connectors/http/server.h"

namespace samordna::deliver {
namespace {

class DeliverHttpsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = (std::filesystem::temp_directory_path() /
            ("samordna-deliver-tls-" + std::to_string(::getpid())))
               .string();
    const std::string cmd =
        "bash " SAMORDNA_SOURCE_DIR "/tests/unit/http/make_test_ca.sh " + dir_ + " >/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }
  static std::string f(const char* name) { return dir_ + "/" + name; }

  // A receiver: POST /hook records what it got and answers `status_` (with Retry-After 120 on
  // 429).
  std::unique_ptr<http::Server> receiver(bool tls, std::string client_ca = "", bool require = false,
                                         std::string address = "127.0.0.1") {
    http::Router router;
    router.add("POST", "/hook", [this](const http::Request& r) {
      std::lock_guard lock(mutex_);
      got_ = r;
      auto res = http::Response::with(status_, "text/plain", "ok");
      if (status_ == 429) res.set("Retry-After", "120");
      return res;
    });
    http::ServerOptions o;
    o.address = std::move(address);
    if (tls)
      o.tls = http::TlsOptions{f("server.pem"), f("server.key"), std::move(client_ca), require};
    auto s = http::Server::start(std::move(o), std::move(router));
    EXPECT_TRUE(s) << s.error().message;
    return std::move(s.value());
  }

  std::unique_ptr<HttpsClient> client(ClientOptions o = {}) {
    if (o.ca_file.empty()) o.ca_file = f("ca.pem");
    o.connect_timeout = std::chrono::seconds(5);
    o.request_timeout = std::chrono::seconds(5);
    auto c = HttpsClient::create(std::move(o));
    EXPECT_TRUE(c) << c.error().message;
    return std::move(c.value());
  }

  static std::string dir_;
  std::mutex mutex_;
  http::Request got_;
  int status_ = 200;
};
std::string DeliverHttpsTest::dir_;

TEST_F(DeliverHttpsTest, SignedPostArrivesOverTlsAndVerifies) {
  auto server = receiver(true);
  auto c = client();
  const auto secret = parse_secret("whsec_" + base64_encode(std::string(32, 's'))).value();
  const std::string id = "ep-1/e/ev-1/0", body = R"({"notificationId":"ep-1/e/ev-1/0"})";
  const int64_t ts = 1764806400;
  const auto r = c->post({"127.0.0.1", server->port(), "/hook", true},
                         {{"Content-Type", "application/json"},
                          {"webhook-id", id},
                          {"webhook-timestamp", std::to_string(ts)},
                          {"webhook-signature", signature_header({secret}, id, ts, body)}},
                         body, ts);
  ASSERT_TRUE(r.failure.empty()) << r.failure;
  EXPECT_EQ(r.outcome.status, 200);
  std::lock_guard lock(mutex_);
  EXPECT_TRUE(got_.tls);
  EXPECT_EQ(got_.body, body);
  EXPECT_EQ(got_.header("webhook-id"), id);
  EXPECT_TRUE(verify({secret}, std::string(got_.header("webhook-signature").value_or("")), id, ts,
                     got_.body));
}

TEST_F(DeliverHttpsTest, StatusAndRetryAfterComeBack) {
  auto server = receiver(true);
  auto c = client();
  status_ = 429;
  auto r = c->post({"127.0.0.1", server->port(), "/hook", true}, {}, "{}", 0);
  EXPECT_EQ(r.outcome.status, 429);
  EXPECT_EQ(r.outcome.retry_after, std::chrono::seconds(120));
  status_ = 410;
  r = c->post({"127.0.0.1", server->port(), "/hook", true}, {}, "{}", 0);
  EXPECT_EQ(r.outcome.status, 410);
  EXPECT_EQ(r.outcome.retry_after, std::nullopt);
  // No such route: the server's 404, a status like any other.
  r = c->post({"127.0.0.1", server->port(), "/other", true}, {}, "{}", 0);
  EXPECT_EQ(r.outcome.status, 404);
}

TEST_F(DeliverHttpsTest, AServerCertificateFromAnotherCaIsRefused) {
  auto server = receiver(true);
  ClientOptions o;
  o.ca_file = f("rogue-ca.pem");  // trusts only the rogue CA
  auto c = client(o);
  const auto r = c->post({"127.0.0.1", server->port(), "/hook", true}, {}, "{}", 0);
  EXPECT_EQ(r.outcome.status, std::nullopt);
  EXPECT_NE(r.failure.find("TLS handshake"), std::string::npos) << r.failure;
  std::lock_guard lock(mutex_);
  EXPECT_TRUE(got_.body.empty());  // nothing was delivered
}

TEST_F(DeliverHttpsTest, AServerCertificateForAnotherNameIsRefused) {
  // The certificate names 127.0.0.1 and localhost; 127.0.0.2 is the loopback too, but not named.
  auto server = receiver(true, "", false, "127.0.0.2");
  auto c = client();
  const auto r = c->post({"127.0.0.2", server->port(), "/hook", true}, {}, "{}", 0);
  EXPECT_EQ(r.outcome.status, std::nullopt) << "delivered to a host the certificate does not name";
  EXPECT_NE(r.failure.find("TLS handshake"), std::string::npos) << r.failure;
}

TEST_F(DeliverHttpsTest, ClientCertificateForReceiversThatRequireOne) {
  auto server = receiver(true, f("ca.pem"), true);
  auto without = client();
  auto r = without->post({"127.0.0.1", server->port(), "/hook", true}, {}, "{}", 0);
  EXPECT_EQ(r.outcome.status, std::nullopt);
  ClientOptions o;
  o.client_cert_file = f("client.pem");
  o.client_key_file = f("client.key");
  auto with = client(o);
  r = with->post({"127.0.0.1", server->port(), "/hook", true}, {}, "{}", 0);
  ASSERT_TRUE(r.failure.empty()) << r.failure;
  EXPECT_EQ(r.outcome.status, 200);
  std::lock_guard lock(mutex_);
  EXPECT_EQ(got_.tls_peer_subject, "CN=ward-7,O=Test Region");
}

TEST_F(DeliverHttpsTest, ConfigurationErrorsNameTheFile) {
  ClientOptions o;
  o.ca_file = f("missing.pem");
  auto c = HttpsClient::create(o);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("missing.pem"), std::string::npos);
  ClientOptions half;
  half.ca_file = f("ca.pem");
  half.client_cert_file = f("client.pem");
  EXPECT_FALSE(HttpsClient::create(half));
  ClientOptions mismatched;
  mismatched.ca_file = f("ca.pem");
  mismatched.client_cert_file = f("client.pem");
  mismatched.client_key_file = f("server.key");
  EXPECT_FALSE(HttpsClient::create(mismatched));
}

TEST_F(DeliverHttpsTest, NoServerIsATransportFailure) {
  uint16_t port = 0;
  {
    auto server = receiver(false);
    port = server->port();
  }  // stopped: nothing listens there now
  auto c = client();
  const auto r = c->post({"127.0.0.1", port, "/hook", false}, {}, "{}", 0);
  EXPECT_EQ(r.outcome.status, std::nullopt);
  EXPECT_NE(r.failure.find("connect"), std::string::npos) << r.failure;
}

}  // namespace
}  // namespace samordna::deliver
