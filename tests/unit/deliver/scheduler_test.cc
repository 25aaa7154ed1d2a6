// The delivery scheduler (connectors/deliver/service.h) with a scripted poster, an in-memory outbox
// and a recording reporter: order per (endpoint, episode), retries, a slow endpoint that holds up
// no other, 410 disabling an endpoint until it is enabled, 400 dead-lettered, a dead letter the
// broker did not confirm kept pending, and every request signed.

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>

#include "connectors/deliver/service.h"

namespace samordna::deliver {
namespace {

using namespace std::chrono_literals;

struct Call {
  std::string endpoint, id, episode;
  bool ok;
};

// Shared by every poster: the answers to give and the calls seen.
struct Script {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Call> calls;
  // Per endpoint, per notification id: statuses to answer in turn (then 200).
  std::map<std::string, std::map<std::string, std::vector<int>>> answers;
  std::map<std::string, bool> blocked;  // endpoint -> hold every request until released
  std::vector<Secret> secrets;
  bool signatures_ok = true;

  PostResult answer(const std::string& endpoint,
                    const std::vector<std::pair<std::string, std::string>>& h,
                    const std::string& body) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return !blocked[endpoint]; });
    std::map<std::string, std::string> headers(h.begin(), h.end());
    const std::string id = headers["webhook-id"];
    if (!verify(secrets, headers["webhook-signature"], id, std::stoll(headers["webhook-timestamp"]),
                body))
      signatures_ok = false;
    int status = 200;
    auto& queue = answers[endpoint][id];
    if (!queue.empty()) {
      status = queue.front();
      queue.erase(queue.begin());
    }
    std::string episode = id.substr(0, id.find('/'));
    calls.push_back({endpoint, id, episode, status / 100 == 2});
    cv.notify_all();
    PostResult r;
    r.outcome.status = status;
    return r;
  }
  // Waits until `pred` holds over the calls (bounded: a test that hangs fails instead).
  bool wait(const std::function<bool(const std::vector<Call>&)>& pred) {
    // Polls too: some conditions (the scheduler's state) change without a call.
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    std::unique_lock lock(mu);
    while (!pred(calls)) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      cv.wait_for(lock, 10ms);
    }
    return true;
  }
};

class ScriptPoster final : public Poster {
 public:
  ScriptPoster(Script& s, std::string endpoint) : s_(s), endpoint_(std::move(endpoint)) {}
  PostResult post(const Endpoint&, const std::vector<std::pair<std::string, std::string>>& headers,
                  const std::string& body, int64_t) override {
    return s_.answer(endpoint_, headers, body);
  }

 private:
  Script& s_;
  std::string endpoint_;
};

struct MemoryOutbox final : Outbox {
  std::mutex mu;
  std::map<std::string, int> removed, buried, updated;
  std::set<std::string> disabled;
  static std::string key(const v1::OutboxEntry& e) {
    return e.endpoint() + "|" + e.notification_id();
  }
  Result<void> update(const v1::OutboxEntry& e) override {
    std::lock_guard l(mu);
    ++updated[key(e)];
    return ok();
  }
  Result<void> remove(const v1::OutboxEntry& e) override {
    std::lock_guard l(mu);
    ++removed[key(e)];
    return ok();
  }
  Result<void> bury(const v1::OutboxEntry& e) override {
    std::lock_guard l(mu);
    ++buried[key(e)];
    return ok();
  }
  Result<void> set_disabled(const std::string& endpoint, bool d) override {
    std::lock_guard l(mu);
    if (d) {
      disabled.insert(endpoint);
    } else {
      disabled.erase(endpoint);
    }
    return ok();
  }
};

struct MemoryReporter final : Reporter {
  std::mutex mu;
  std::vector<v1::DeliveryStatus> statuses, dead;
  int refuse_dead_letters = 0;  // this many dead letters fail first (the broker is down)
  void status(const v1::DeliveryStatus& s) override {
    std::lock_guard l(mu);
    statuses.push_back(s);
  }
  Result<void> dead_letter(const v1::DeliveryStatus& s, const v1::Notification& n) override {
    std::lock_guard l(mu);
    if (refuse_dead_letters > 0) {
      --refuse_dead_letters;
      return fail(Errc::kUnavailable, "broker down");
    }
    EXPECT_EQ(n.notification_id(), s.notification_id());
    dead.push_back(s);
    return ok();
  }
  void attempted(const std::string&, const std::string&, double) override {}
  void delivered(const std::string&, double) override {}
};

class DeliverSchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    script_.secrets = {parse_secret("whsec_" + base64_encode(std::string(32, 'k'))).value()};
  }
  EndpointConfig endpoint(const std::string& name, int concurrency = 4) {
    EndpointConfig e;
    e.name = name;
    e.organisation.set_kind(v1::Organisation::MUNICIPALITY);
    e.organisation.set_id("0180");
    e.endpoint = {"127.0.0.1", 1, "/hook", false};
    e.secrets = script_.secrets;
    e.concurrency = concurrency;
    return e;
  }
  static v1::OutboxEntry entry(const std::string& endpoint, const std::string& episode,
                               int64_t offset) {
    v1::Notification n;
    n.set_notification_id(episode + "/n/" + std::to_string(offset));
    n.set_episode_id(episode);
    n.mutable_warning()->set_code(v1::Warning::CONSENT_WITHDRAWN);
    v1::OutboxEntry e;
    e.set_endpoint(endpoint);
    e.set_episode_id(episode);
    e.set_partition(0);
    e.set_offset(offset);
    e.set_notification_id(n.notification_id());
    e.set_notification(n.SerializeAsString());
    return e;
  }
  std::unique_ptr<Scheduler> start(std::vector<EndpointConfig> endpoints,
                                   std::set<std::string> disabled = {},
                                   std::function<int64_t()> now = nullptr) {
    SchedulerOptions o;
    o.retry.first_delay = 0s;  // retries at once: the test is about order, not time
    o.retry.jitter = 0;
    o.dead_letter_retry = 0s;
    o.now = std::move(now);
    auto s = Scheduler::start(
        endpoints, disabled, outbox_, reporter_,
        [this](const EndpointConfig& c) -> Result<std::unique_ptr<Poster>> {
          return std::unique_ptr<Poster>(new ScriptPoster(script_, c.name));
        },
        o);
    EXPECT_TRUE(s) << s.error().message;
    return std::move(s).value();
  }
  static size_t delivered(const std::vector<Call>& calls, const std::string& endpoint) {
    size_t n = 0;
    for (const auto& c : calls) n += c.ok && c.endpoint == endpoint;
    return n;
  }

  Script script_;
  MemoryOutbox outbox_;
  MemoryReporter reporter_;
};

TEST_F(DeliverSchedulerTest, OneEpisodeInOrderThroughRetriesOthersInParallel) {
  // The first and the third notification of each episode fail once (500, 429) before they are
  // taken: a retry waits at least a second, and the episode's next notification waits for it.
  std::vector<v1::OutboxEntry> entries;
  for (const std::string ep : {"e1", "e2", "e3"}) {
    for (int64_t off = 1; off <= 4; ++off) {
      auto e = entry("a", ep, off * 10 + (ep == "e2" ? 1 : 0));
      if (off == 1) script_.answers["a"][e.notification_id()] = {500};
      if (off == 3) script_.answers["a"][e.notification_id()] = {429};
      entries.push_back(e);
    }
  }
  // Enqueued out of order: the scheduler orders by offset.
  std::reverse(entries.begin(), entries.end());
  auto s = start({endpoint("a")});
  EXPECT_EQ(s->enqueue(entries), 0u);
  ASSERT_TRUE(script_.wait(
      [&](const auto& calls) { return delivered(calls, "a") == 12 && s->depths().at("a") == 0; }));
  std::lock_guard lock(script_.mu);
  EXPECT_TRUE(script_.signatures_ok);
  // Per episode, the attempts never go back to an earlier notification and never reach the next
  // one before the one before was delivered.
  std::map<std::string, std::pair<std::string, bool>> last;  // episode -> (id, delivered)
  for (const auto& c : script_.calls) {
    auto it = last.find(c.episode);
    if (it != last.end() && it->second.first != c.id) {
      EXPECT_TRUE(it->second.second)
          << c.id << " attempted before " << it->second.first << " was delivered";
      EXPECT_LT(it->second.first, c.id);
    }
    last[c.episode] = {c.id, c.ok};
  }
  EXPECT_EQ(script_.calls.size(), 18u);
  EXPECT_EQ(outbox_.removed.size(), 12u);
  EXPECT_EQ(s->depths().at("a"), 0u);
}

TEST_F(DeliverSchedulerTest, ASlowEndpointHoldsUpNoOther) {
  script_.blocked["slow"] = true;
  auto s = start({endpoint("slow", 1), endpoint("fast", 1)});
  std::vector<v1::OutboxEntry> entries;
  for (int64_t off = 1; off <= 5; ++off) {
    entries.push_back(entry("slow", "e" + std::to_string(off), off));
    entries.push_back(entry("fast", "e" + std::to_string(off), off));
  }
  s->enqueue(entries);
  ASSERT_TRUE(script_.wait([](const auto& calls) { return delivered(calls, "fast") == 5; }));
  EXPECT_EQ(s->depths().at("slow"), 5u);
  {
    std::lock_guard lock(script_.mu);
    script_.blocked["slow"] = false;
    script_.cv.notify_all();
  }
  ASSERT_TRUE(script_.wait([](const auto& calls) { return delivered(calls, "slow") == 5; }));
}

TEST_F(DeliverSchedulerTest, GoneDisablesTheEndpointUntilEnabled) {
  auto s = start({endpoint("gone", 1), endpoint("other")});
  auto first = entry("gone", "e1", 1);
  script_.answers["gone"][first.notification_id()] = {410};
  s->enqueue({first, entry("gone", "e2", 2), entry("other", "e1", 1)});
  ASSERT_TRUE(script_.wait([](const auto& calls) { return delivered(calls, "other") == 1; }));
  ASSERT_TRUE(script_.wait([&](const auto&) { return s->disabled("gone"); }));
  EXPECT_EQ(outbox_.disabled, (std::set<std::string>{"gone"}));
  std::this_thread::sleep_for(200ms);  // a disabled endpoint gets no attempt, however long
  {
    std::lock_guard lock(script_.mu);
    EXPECT_EQ(delivered(script_.calls, "gone"), 0u);
    EXPECT_EQ(script_.calls.size(), 2u);
  }
  EXPECT_EQ(s->depths().at("gone"), 2u);
  ASSERT_TRUE(s->enable("gone"));
  EXPECT_TRUE(outbox_.disabled.empty());
  ASSERT_TRUE(script_.wait([](const auto& calls) { return delivered(calls, "gone") == 2; }));
}

TEST_F(DeliverSchedulerTest, ARejectedDeliveryIsDeadLetteredAndTheEpisodeGoesOn) {
  auto s = start({endpoint("a")});
  auto bad = entry("a", "e1", 1);
  script_.answers["a"][bad.notification_id()] = {400};
  s->enqueue({bad, entry("a", "e1", 2)});
  ASSERT_TRUE(script_.wait([](const auto& calls) { return delivered(calls, "a") == 1; }));
  std::lock_guard lock(reporter_.mu);
  ASSERT_EQ(reporter_.dead.size(), 1u);
  EXPECT_EQ(reporter_.dead[0].code(), "rejected");
  EXPECT_EQ(reporter_.dead[0].last_status(), 400);
  EXPECT_EQ(reporter_.dead[0].state(), v1::DeliveryStatus::DEAD_LETTERED);
  EXPECT_EQ(reporter_.dead[0].reason(), "HTTP 400");
  EXPECT_EQ(outbox_.buried.count("a|" + bad.notification_id()), 1u);
}

TEST_F(DeliverSchedulerTest, ADeadLetterNotConfirmedStaysPendingAndIsTriedAgain) {
  reporter_.refuse_dead_letters = 1;
  auto s = start({endpoint("a")});
  auto bad = entry("a", "e1", 1);
  script_.answers["a"][bad.notification_id()] = {404, 404};
  s->enqueue({bad});
  ASSERT_TRUE(script_.wait([&](const auto&) {
    std::lock_guard l(reporter_.mu);
    return reporter_.dead.size() == 1;
  }));
  EXPECT_EQ(outbox_.buried.at("a|" + bad.notification_id()), 1);
  EXPECT_GE(outbox_.updated.at("a|" + bad.notification_id()), 1);  // kept, not dropped
  std::lock_guard l(script_.mu);
  EXPECT_EQ(script_.calls.size(), 2u);
}

// A receiver that fails for good (503 on every attempt): once the schedule's three days are
// spent (a clock that moves 7 hours at each look), the delivery is dead-lettered as exhausted,
// with the attempts it took and the last status, buried in the outbox, and the episode's next
// notification goes on.
TEST_F(DeliverSchedulerTest,
       ADeliveryThatNeverSucceedsIsExhaustedAfterThreeDaysAndTheEpisodeGoesOn) {
  auto clock = std::make_shared<std::atomic<int64_t>>(1'767'225'600);
  auto s = start({endpoint("a")}, {}, [clock] { return clock->fetch_add(7 * 3600); });
  auto down = entry("a", "e1", 1);
  script_.answers["a"][down.notification_id()] = std::vector<int>(100, 503);
  s->enqueue({down, entry("a", "e1", 2)});
  ASSERT_TRUE(script_.wait([](const auto& calls) { return delivered(calls, "a") == 1; }));
  std::lock_guard lock(reporter_.mu);
  ASSERT_EQ(reporter_.dead.size(), 1u);
  const auto& dead = reporter_.dead[0];
  EXPECT_EQ(dead.code(), "exhausted");
  EXPECT_EQ(dead.state(), v1::DeliveryStatus::DEAD_LETTERED);
  EXPECT_EQ(dead.last_status(), 503);
  EXPECT_GT(dead.attempts(), 2);
  EXPECT_LT(dead.attempts(), 100);  // it gave up: it did not try until the receiver came back
  EXPECT_EQ(outbox_.buried.count("a|" + down.notification_id()), 1u);
  std::lock_guard calls(script_.mu);
  EXPECT_EQ(script_.calls.back().id, "e1/n/2");  // the episode went on after the dead letter
}

TEST_F(DeliverSchedulerTest, AnEntryForAnEndpointNotConfiguredIsLeftAlone) {
  auto s = start({endpoint("a")});
  EXPECT_EQ(s->enqueue({entry("renamed", "e1", 1)}), 1u);
}

}  // namespace
}  // namespace samordna::deliver
