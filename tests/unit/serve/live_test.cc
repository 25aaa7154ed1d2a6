#include "connectors/serve/live.h"

#include <gtest/gtest.h>

#include <future>

#include "tests/unit/serve/serve_fixture.h"

namespace samordna::serve {
namespace {

using namespace samordna::serve::testing;
using K = v1::Organisation;
using namespace std::chrono_literals;

class ServeLive : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    model_ = ReadModel::open(dir_).value();
    keys_ = make_keys("EC");
    verifier_ = std::make_unique<Verifier>(Verifier::from_pem(keys_.public_pem, {}).value());
    clock_.set(at("2026-01-05T09:00:00Z"));
    LiveOptions o;
    o.hold = 3s;
    o.poll = 20ms;
    hub_ = std::make_unique<LiveHub>(*model_, *verifier_, clock_, o);
  }
  void TearDown() override {
    hub_.reset();
    model_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string token(Role role, const OrgRef& o) {
    TokenRequest r;
    r.subject = "user";
    r.org = o;
    r.role = role;
    r.now = clock_.now();
    return mint_token(keys_.private_pem, r).value();
  }
  // Starts a request; the future has its answer.
  std::future<HttpResponse> ask(const std::string& tok, std::optional<std::string> after) {
    HttpRequest req;
    req.method = "GET";
    req.path = LiveHub::kRoute;
    if (after) req.query.emplace_back("after", *after);
    if (!tok.empty()) req.authorization = "Bearer " + tok;
    auto p = std::make_shared<std::promise<HttpResponse>>();
    auto f = p->get_future();
    hub_->handle(req, [p](HttpResponse r) { p->set_value(std::move(r)); });
    return f;
  }
  void wait_waiting(size_t n) {
    for (int i = 0; i < 500 && hub_->waiting() != n; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(hub_->waiting(), n);
  }
  std::filesystem::path dir_;
  std::unique_ptr<ReadModel> model_;
  KeyPair keys_;
  std::unique_ptr<Verifier> verifier_;
  ManualClock clock_;
  std::unique_ptr<LiveHub> hub_;
};

TEST_F(ServeLive, AFirstRequestLearnsThePositionThenGetsOnlyItsOwnNewNotifications) {
  const auto t = model_->topics();
  // World A's admission notice to its municipality is there before the stream starts.
  ASSERT_TRUE(model_->apply({Record{t.notifications, 0, 0, "ep-a",
                                    notification(kWorldA, K::MUNICIPALITY).SerializeAsString()}}));
  const auto tok = token(Role::kCaseworker, org(K::MUNICIPALITY, kWorldA));
  auto first = ask(tok, std::nullopt).get();
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.content_type, "text/event-stream; charset=utf-8");
  EXPECT_NE(first.body.find("event: position\ndata: {\"seq\":1}"), std::string::npos) << first.body;

  auto waiting = ask(tok, "1");
  wait_waiting(1);
  // Another municipality's notification wakes nobody here.
  ASSERT_TRUE(model_->apply({Record{t.notifications, 0, 1, "ep-b",
                                    notification(kWorldB, K::MUNICIPALITY).SerializeAsString()}}));
  EXPECT_EQ(waiting.wait_for(300ms), std::future_status::timeout);
  // World A's payment liability (addressed to the municipality) does.
  ASSERT_TRUE(model_->apply({Record{t.notifications, 0, 2, "ep-a",
                                    notification(kWorldA, K::REGION).SerializeAsString()}}));
  ASSERT_EQ(waiting.wait_for(5s), std::future_status::ready);
  const auto r = waiting.get();
  EXPECT_NE(r.body.find("id: 3\nevent: notification\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"kind\":\"paymentLiability\""), std::string::npos) << r.body;
  // No patient data: not the identity number, not the episode's content.
  EXPECT_EQ(r.body.find(kWorldA.personal_id), std::string::npos);
  EXPECT_EQ(r.body.find("ep-b"), std::string::npos);
}

TEST_F(ServeLive, NothingNewAnswersThePositionAfterTheHoldTime) {
  const auto tok = token(Role::kCaseworker, org(K::OUTPATIENT_UNIT, kWorldA));
  auto waiting = ask(tok, "0");
  wait_waiting(1);
  clock_.set(clock_.now() + 5s);
  ASSERT_EQ(waiting.wait_for(5s), std::future_status::ready);
  EXPECT_NE(waiting.get().body.find("event: position"), std::string::npos);
}

TEST_F(ServeLive, StopAnswersEveryoneWaiting) {
  const auto tok = token(Role::kCoordinator, org(K::MUNICIPALITY, kWorldA));
  auto a = ask(tok, "0");
  auto b = ask(tok, "0");
  wait_waiting(2);
  hub_->stop();
  EXPECT_EQ(a.wait_for(1s), std::future_status::ready);
  EXPECT_EQ(b.wait_for(1s), std::future_status::ready);
  // After stop, a request is answered at once.
  EXPECT_EQ(ask(tok, "0").wait_for(1s), std::future_status::ready);
}

TEST_F(ServeLive, RefusesWithoutATokenOrAnInboxRoleAndBadCursors) {
  EXPECT_EQ(ask("", "0").get().status, 401);
  EXPECT_EQ(ask("not-a-token", "0").get().status, 401);
  EXPECT_EQ(ask(token(Role::kAuditor, org(K::REGION, kWorldA)), "0").get().status, 403);
  EXPECT_EQ(ask(token(Role::kOperator, org(K::REGION, kWorldA)), "0").get().status, 403);
  const auto tok = token(Role::kCaseworker, org(K::WARD, kWorldA));
  for (const char* bad : {"-1", "x", "1x", ""}) EXPECT_EQ(ask(tok, bad).get().status, 400) << bad;
}

TEST_F(ServeLive, SessionSaysWhoTheTokenIs) {
  HttpRequest req;
  req.method = "GET";
  req.path = "/api/v1/session";
  EXPECT_EQ(session_answer(req, *verifier_, clock_.now()).status, 401);
  req.authorization = "Bearer " + token(Role::kCoordinator, org(K::REGION, kWorldA));
  const auto r = session_answer(req, *verifier_, clock_.now());
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("org":{"id":"01","kind":"REGION"})"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("role":"coordinator")"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace samordna::serve
