// The Intake (connectors/kafka/intake.h) against the real broker: events and memory records are
// committed together and are on their topics exactly once under read_committed; a restarted (or
// another) instance remembers what was committed and nothing else; a transaction the predecessor
// left open is aborted by the fencing at open(); preconditions refuse a second copy; a fenced
// intake fails every submission; a broker that stops answering (SIGSTOP) gives a timeout within
// the caller's bound and the resend lands once (a broker of the test's own, kafka.sh on
// SAMORDNA_INTAKE_KAFKA_PORT, default 29392, and the next port). Nothing about speed is asserted
// beyond the bound.

#include "connectors/kafka/intake.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka/admin.h"
#include "tests/integration/kafka_fixture.h"

namespace samordna::kafka_test {
namespace {

using Clock = std::chrono::steady_clock;
using kafka::Intake;
using kafka::IntakeOutcome;
using kafka::Precondition;

v1::Event event(const std::string& episode, const std::string& id) {
  v1::Event e;
  e.set_episode_id(episode);
  e.set_event_id(id);
  e.set_source("test");
  e.mutable_occurred_at()->set_seconds(1700000000);
  return e;
}

std::map<std::string, int> copies_of(const std::vector<Record>& records) {
  std::map<std::string, int> copies;
  for (const auto& r : records) {
    v1::Event e;
    EXPECT_TRUE(e.ParseFromString(r.value));
    ++copies[e.event_id()];
  }
  return copies;
}

IntakeOutcome submit_and_wait(Intake& intake, std::vector<v1::Event> events, std::string key,
                              std::string value, Precondition when = Precondition::none(),
                              std::chrono::milliseconds bound = 30s) {
  std::promise<IntakeOutcome> promise;
  auto answer = promise.get_future();
  kafka::Submission s;
  s.events = std::move(events);
  s.memory = {std::move(key), std::move(value)};
  s.when = std::move(when);
  intake.submit(std::move(s), Clock::now() + bound,
                [&promise](IntakeOutcome out) { promise.set_value(std::move(out)); });
  return answer.get();
}

ReadOptions at_end() {
  ReadOptions o;
  o.stop_at_end = true;
  return o;
}

// A transactional producer with `transactional_id` that has written `records` (topic, key,
// value) in a transaction it leaves open, as a process killed mid-transaction does; nullptr (and a
// test failure) when the broker refused a step.
struct Written {
  std::string topic, key, value;
};
std::unique_ptr<RdKafka::Producer> open_transaction(const kafka::KafkaConfig& config,
                                                    const std::string& transactional_id,
                                                    const std::vector<Written>& records) {
  auto producer = kafka::make_transactional_producer(config, transactional_id, 60000);
  if (!producer) {
    ADD_FAILURE() << producer.error().message;
    return nullptr;
  }
  auto p = std::move(producer).value();
  for (auto* step : {p->init_transactions(30000), p->begin_transaction()}) {
    if (std::unique_ptr<RdKafka::Error> e(step); e) {
      ADD_FAILURE() << e->str();
      return nullptr;
    }
  }
  for (const auto& r : records) {
    const auto err = p->produce(r.topic, RdKafka::Topic::PARTITION_UA,
                                RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(r.value.data()),
                                r.value.size(), r.key.data(), r.key.size(), 0, nullptr);
    if (err != RdKafka::ERR_NO_ERROR) {
      ADD_FAILURE() << RdKafka::err2str(err);
      return nullptr;
    }
  }
  if (p->flush(30000) != RdKafka::ERR_NO_ERROR) {
    ADD_FAILURE() << "flush timed out";
    return nullptr;
  }
  return p;
}

class IntakeTest : public KafkaTest {
 protected:
  // This test's events and memory topics (created here, so the fixture deletes them).
  void SetUp() override {
    KafkaTest::SetUp();
    if (IsSkipped()) return;
    config_.bootstrap = bootstrap();
    config_.topics.events = unique_topic("events");
    create_topic(config_.topics.events, 2);
    options_.memory_topic = unique_topic("memory");
    create_topic(options_.memory_topic, 1, /*compact=*/true);
    options_.instance = unique_topic("instance");
  }

  std::unique_ptr<Intake> open(kafka::IntakeOptions options) {
    auto made = Intake::open(config_, std::move(options));
    EXPECT_TRUE(made) << made.error().message;
    return made ? std::move(made).value() : nullptr;
  }

  kafka::KafkaConfig config_;
  kafka::IntakeOptions options_;
};

TEST_F(IntakeTest, ManyConcurrentSubmissionsAreCommittedExactlyOnce) {
  auto intake = open(options_);
  ASSERT_TRUE(intake);
  constexpr int kThreads = 8, kEach = 25;
  std::mutex m;
  std::vector<IntakeOutcome> outcomes;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string id = std::to_string(t) + "-" + std::to_string(i);
        auto out =
            submit_and_wait(*intake, {event("ep-" + id, id + "#1"), event("ep-" + id, id + "#2")},
                            "k-" + id, "v-" + id, Precondition::absent());
        std::lock_guard lock(m);
        outcomes.push_back(std::move(out));
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& o : outcomes) {
    ASSERT_EQ(o.status, IntakeOutcome::Status::kDurable)
        << kafka::intake_status_name(o.status) << ": " << (o.error ? o.error->message : "");
  }
  const auto stats = intake->stats();
  EXPECT_EQ(stats.durable, static_cast<uint64_t>(kThreads * kEach));
  EXPECT_GE(stats.transactions, 1u);
  EXPECT_LE(stats.transactions, static_cast<uint64_t>(kThreads * kEach));
  intake->close(10s);

  auto events = read_topic(bootstrap(), config_.topics.events, at_end());
  ASSERT_TRUE(events) << events.error().message;
  const auto copies = copies_of(events.value());
  EXPECT_EQ(copies.size(), static_cast<size_t>(2 * kThreads * kEach));
  for (const auto& [id, n] : copies) EXPECT_EQ(n, 1) << id;

  auto memory = read_topic(bootstrap(), options_.memory_topic, at_end());
  ASSERT_TRUE(memory) << memory.error().message;
  std::set<std::string> keys;
  for (const auto& r : memory.value()) {
    ASSERT_TRUE(r.key);
    EXPECT_EQ("v-" + r.key->substr(2), r.value);
    keys.insert(*r.key);
  }
  EXPECT_EQ(keys.size(), static_cast<size_t>(kThreads * kEach));
}

TEST_F(IntakeTest, PreconditionsRefuseASecondCopyAndReportTheValue) {
  auto intake = open(options_);
  ASSERT_TRUE(intake);
  auto first = submit_and_wait(*intake, {event("ep-1", "a#1")}, "k", "v1", Precondition::absent());
  ASSERT_EQ(first.status, IntakeOutcome::Status::kDurable);

  auto again = submit_and_wait(*intake, {event("ep-1", "a#1")}, "k", "v1", Precondition::absent());
  ASSERT_EQ(again.status, IntakeOutcome::Status::kConflict);
  ASSERT_TRUE(again.current);
  EXPECT_EQ(again.current->value, "v1");
  EXPECT_TRUE(again.current->durable);

  auto stale =
      submit_and_wait(*intake, {event("ep-1", "b#1")}, "k", "v3", Precondition::equals("v0"));
  EXPECT_EQ(stale.status, IntakeOutcome::Status::kConflict);
  auto update =
      submit_and_wait(*intake, {event("ep-1", "b#1")}, "k", "v2", Precondition::equals("v1"));
  EXPECT_EQ(update.status, IntakeOutcome::Status::kDurable);
  ASSERT_TRUE(intake->recall("k"));
  EXPECT_EQ(intake->recall("k")->value, "v2");
  EXPECT_FALSE(intake->recall("nope"));
  intake->close(10s);

  auto events = read_topic(bootstrap(), config_.topics.events, at_end());
  ASSERT_TRUE(events);
  const auto copies = copies_of(events.value());
  EXPECT_EQ(copies, (std::map<std::string, int>{{"a#1", 1}, {"b#1", 1}}));
}

TEST_F(IntakeTest, ARestartAndAnotherInstanceRememberWhatWasCommitted) {
  {
    auto intake = open(options_);
    ASSERT_TRUE(intake);
    for (int i = 0; i < 20; ++i) {
      auto out = submit_and_wait(*intake, {event("ep", std::to_string(i))}, "k" + std::to_string(i),
                                 "v" + std::to_string(i));
      ASSERT_EQ(out.status, IntakeOutcome::Status::kDurable);
    }
    // Further records ride in the same transaction.
    std::promise<IntakeOutcome> promise;
    kafka::Submission s;
    s.memory = {"main", "m"};
    s.more = {{"extra-1", "e1"}, {"extra-2", "e2"}};
    intake->submit(std::move(s), Clock::now() + 30s,
                   [&promise](IntakeOutcome out) { promise.set_value(std::move(out)); });
    ASSERT_EQ(promise.get_future().get().status, IntakeOutcome::Status::kDurable);
    intake->close(10s);
  }
  auto restarted = open(options_);
  ASSERT_TRUE(restarted);
  EXPECT_EQ(restarted->stats().memory_loaded, 23u);
  ASSERT_TRUE(restarted->recall("extra-2"));
  EXPECT_EQ(restarted->recall("extra-2")->value, "e2");
  for (int i = 0; i < 20; ++i) {
    auto r = restarted->recall("k" + std::to_string(i));
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->value, "v" + std::to_string(i));
    EXPECT_TRUE(r->durable);
  }
  auto again = submit_and_wait(*restarted, {event("ep", "0")}, "k0", "v0", Precondition::absent());
  EXPECT_EQ(again.status, IntakeOutcome::Status::kConflict);

  kafka::IntakeOptions other = options_;
  other.instance += "-other";
  auto second = open(other);
  ASSERT_TRUE(second);
  ASSERT_TRUE(second->recall("k19"));
  EXPECT_EQ(second->recall("k19")->value, "v19");
}

// What a killed listener left in an open transaction is aborted by its successor's open() and is
// neither on the events topic nor in the memory.
TEST_F(IntakeTest, ATransactionLeftOpenIsAbortedAndForgotten) {
  {
    std::string value;
    event("ep", "lost#1").SerializeToString(&value);
    // Dropped without commit or abort: as a SIGKILL leaves it (the transaction stays open on the
    // broker until its timeout or the next init_transactions with this id).
    ASSERT_TRUE(open_transaction(
        config_, "samordna-intake-" + options_.instance,
        {{config_.topics.events, "ep", value}, {options_.memory_topic, "lost", "x"}}));
  }
  auto intake = open(options_);
  ASSERT_TRUE(intake);
  EXPECT_FALSE(intake->recall("lost"));
  auto out = submit_and_wait(*intake, {event("ep", "kept#1")}, "kept", "y", Precondition::absent());
  ASSERT_EQ(out.status, IntakeOutcome::Status::kDurable);
  intake->close(10s);
  auto events = read_topic(bootstrap(), config_.topics.events, at_end());
  ASSERT_TRUE(events);
  EXPECT_EQ(copies_of(events.value()), (std::map<std::string, int>{{"kept#1", 1}}));
}

// Another listener instance (another transactional id) died with a transaction open on the memory
// topic, BEFORE this instance committed what it remembers. That open transaction pins the topic's
// last stable offset below this instance's records until the broker aborts it. A restart must
// still remember them: open() reads to the high watermark and waits for the transaction to be
// settled (here the test aborts it after 3 s, as the broker's timeout would), where stopping at
// the stable offset (the first end a read_committed reader sees) would forget them.
TEST_F(IntakeTest, AnotherInstancesOpenTransactionHidesNothingFromARestart) {
  auto intake = open(options_);
  ASSERT_TRUE(intake);
  // The other instance begins its transaction while this one runs, and dies with it open.
  auto dead = open_transaction(config_, "samordna-intake-dead-" + options_.instance,
                               {{options_.memory_topic, "dead", "x"}});
  ASSERT_TRUE(dead);
  auto out = submit_and_wait(*intake, {event("ep", "after#1")}, "after", "y");
  ASSERT_EQ(out.status, IntakeOutcome::Status::kDurable);
  intake->close(10s);
  intake.reset();

  auto settle = std::async(std::launch::async, [&dead] {
    std::this_thread::sleep_for(3s);
    return std::unique_ptr<RdKafka::Error>(dead->abort_transaction(30000));
  });
  auto restarted = open(options_);  // waits for the abort
  auto aborted = settle.get();
  ASSERT_FALSE(aborted) << aborted->str();
  ASSERT_TRUE(restarted);
  auto r = restarted->recall("after");
  ASSERT_TRUE(r) << "the restart forgot a record committed after another instance's open "
                    "transaction began";
  EXPECT_EQ(r->value, "y");
  EXPECT_FALSE(restarted->recall("dead"));
}

TEST_F(IntakeTest, AFencedIntakeFailsEverySubmission) {
  auto first = open(options_);
  ASSERT_TRUE(first);
  ASSERT_EQ(submit_and_wait(*first, {event("ep", "1")}, "k1", "v").status,
            IntakeOutcome::Status::kDurable);
  auto second = open(options_);  // same instance: fences the first
  ASSERT_TRUE(second);
  auto out = submit_and_wait(*first, {event("ep", "2")}, "k2", "v");
  EXPECT_EQ(out.status, IntakeOutcome::Status::kFailed);
  EXPECT_TRUE(first->fatal());
  EXPECT_EQ(submit_and_wait(*second, {event("ep", "3")}, "k3", "v").status,
            IntakeOutcome::Status::kDurable);
  auto events = read_topic(bootstrap(), config_.topics.events, at_end());
  ASSERT_TRUE(events);
  EXPECT_EQ(copies_of(events.value()), (std::map<std::string, int>{{"1", 1}, {"3", 1}}));
}

TEST_F(IntakeTest, CreatesABoundedCompactedMemoryTopic) {
  kafka::IntakeOptions options = options_;
  options.memory_topic = unique_topic("memory-created");
  options.memory_retention = std::chrono::hours(48);
  auto intake = open(options);
  ASSERT_TRUE(intake);
  EXPECT_EQ(submit_and_wait(*intake, {}, "k", "v").status, IntakeOutcome::Status::kDurable);
  intake.reset();
  auto count = kafka::partition_count(config_, options.memory_topic, 10s);
  EXPECT_TRUE(count && count.value() == 1);
  // The topic's configs as the broker has them.
  auto describe =
      run_command({std::string(SAMORDNA_SOURCE_DIR) + "/deploy/kafka/kafka.sh", "tool",
                   "kafka.admin.ConfigCommand", "--bootstrap-server", bootstrap(), "--describe",
                   "--entity-type", "topics", "--entity-name", options.memory_topic},
                  120s);
  ASSERT_EQ(describe.exit_code, 0) << describe.describe();
  EXPECT_NE(describe.out.find("cleanup.policy=compact,delete"), std::string::npos) << describe.out;
  EXPECT_NE(describe.out.find("retention.ms=172800000"), std::string::npos) << describe.out;
  ASSERT_TRUE(kafka::delete_topics(config_, {options.memory_topic}, 30s));
}

TEST_F(IntakeTest, OpenAgainstNoBrokerFailsWithinItsBound) {
  kafka::KafkaConfig nowhere = config_;
  nowhere.bootstrap = "127.0.0.1:1";
  kafka::IntakeOptions options = options_;
  options.open_timeout = 3s;
  const auto start = Clock::now();
  auto made = Intake::open(nowhere, options);
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().code, Errc::kUnavailable) << made.error().message;
  EXPECT_LT(Clock::now() - start, 60s);  // bounded (a generous margin, not a timing)
}

// The broker stops answering (SIGSTOP: a GC pause, a stalled disk) while a message waits to be
// made durable: the listener's answer (AE/CE 207, 503) comes from kTimedOut within its bound. The
// sender then resends, once the broker is back; the resend (with the listener's precondition on
// the message's memory key) is either committed, if the first never was, or refused as a conflict
// that reports the first's value, if it committed after all. Either way its events are on the
// topic exactly once.
TEST_F(IntakeTest, ABrokerThatStopsAnsweringTimesOutWithinTheBoundAndTheResendLandsOnce) {
  PrivateBroker broker(SAMORDNA_SOURCE_DIR, "SAMORDNA_INTAKE_KAFKA_PORT", 29392);
  auto started = broker.start();
  ASSERT_EQ(started.exit_code, 0) << started.describe();
  kafka::KafkaConfig config = config_;
  config.bootstrap = broker.bootstrap();
  ASSERT_TRUE(kafka::create_topics(
      config, {{config.topics.events, 2}, {options_.memory_topic, 1, /*compact=*/true}}, 60s));
  auto made = Intake::open(config, options_);
  ASSERT_TRUE(made) << made.error().message;
  auto& intake = *made.value();
  auto before =
      submit_and_wait(intake, {event("ep-1", "m1#1")}, "m1", "ack1", Precondition::absent());
  ASSERT_EQ(before.status, IntakeOutcome::Status::kDurable);

  broker.pause();
  const auto bound = 2s;
  const auto t0 = Clock::now();
  auto during =
      submit_and_wait(intake, {event("ep-2", "m2#1")}, "m2", "ack2", Precondition::absent(), bound);
  const auto took = Clock::now() - t0;
  broker.resume();
  EXPECT_EQ(during.status, IntakeOutcome::Status::kTimedOut)
      << kafka::intake_status_name(during.status);
  ASSERT_TRUE(during.error);
  EXPECT_LE(took, bound + 2s) << "the answer came "
                              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                              << " ms after the submit, bound 2000 ms";

  // The sender's resend, after the broker is back (librdkafka reconnects; allow it time).
  IntakeOutcome resend;
  ASSERT_TRUE(wait_until(
      [&] {
        resend = submit_and_wait(intake, {event("ep-2", "m2#1")}, "m2", "ack2",
                                 Precondition::absent(), 10s);
        return resend.status == IntakeOutcome::Status::kDurable ||
               resend.status == IntakeOutcome::Status::kConflict;
      },
      120s, 1s))
      << kafka::intake_status_name(resend.status);
  if (resend.status == IntakeOutcome::Status::kConflict) {
    ASSERT_TRUE(resend.current);  // the first committed after all: its answer is the stored one
    EXPECT_EQ(resend.current->value, "ack2");
  }
  intake.close(10s);

  auto events = read_topic(broker.bootstrap(), config.topics.events, at_end());
  ASSERT_TRUE(events) << events.error().message;
  EXPECT_EQ(copies_of(events.value()), (std::map<std::string, int>{{"m1#1", 1}, {"m2#1", 1}}));
}

}  // namespace
}  // namespace samordna::kafka_test
