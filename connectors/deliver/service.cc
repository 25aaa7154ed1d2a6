#include "connectors/deliver/service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <random>

#include "connectors/deliver/fhir_message.h"
#include "connectors/deliver/signature.h"
#include "engine/core/json_codec.h"

namespace samordna::deliver {

struct Scheduler::Queue {
  EndpointConfig config;
  mutable std::mutex mu;
  std::condition_variable cv;
  // Per episode its pending entries in (partition, offset) order; the front is the head.
  std::map<std::string, std::deque<v1::OutboxEntry>> episodes;
  // (next attempt, episode) of every head that is not in flight: the workers take the first.
  std::set<std::pair<int64_t, std::string>> ready;
  std::set<std::string> busy;  // episodes with an attempt in flight
  size_t depth = 0;
  bool disabled = false;
  std::vector<std::unique_ptr<Poster>> posters;
  std::vector<std::thread> threads;
};

namespace {

class HttpsPoster final : public Poster {
 public:
  explicit HttpsPoster(std::unique_ptr<HttpsClient> client) : client_(std::move(client)) {}
  PostResult post(const Endpoint& endpoint,
                  const std::vector<std::pair<std::string, std::string>>& headers,
                  const std::string& body, int64_t now_unix) override {
    return client_->post(endpoint, headers, body, now_unix);
  }

 private:
  std::unique_ptr<HttpsClient> client_;
};

bool before(const v1::OutboxEntry& a, const v1::OutboxEntry& b) {
  return std::pair(a.partition(), a.offset()) < std::pair(b.partition(), b.offset());
}

double uniform() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

int64_t wall_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

PosterFactory https_poster_factory() {
  return [](const EndpointConfig& c) -> Result<std::unique_ptr<Poster>> {
    SAMORDNA_TRY(client, HttpsClient::create(c.client));
    return std::unique_ptr<Poster>(new HttpsPoster(std::move(client)));
  };
}

std::optional<std::string> render_body(const EndpointConfig& config,
                                       const v1::Notification& notification) {
  if (config.format == Format::kFhir) return fhir_message(notification);
  thread_local JsonCodec json;
  std::string out;
  if (!json.print(notification, out)) return std::nullopt;
  return out;
}

Result<std::unique_ptr<Scheduler>> Scheduler::start(const std::vector<EndpointConfig>& endpoints,
                                                    const std::set<std::string>& disabled,
                                                    Outbox& outbox, Reporter& reporter,
                                                    const PosterFactory& posters,
                                                    SchedulerOptions options) {
  std::unique_ptr<Scheduler> s(new Scheduler());
  s->outbox_ = &outbox;
  s->reporter_ = &reporter;
  if (!options.now) options.now = wall_now;
  s->options_ = std::move(options);
  for (const auto& e : endpoints) {
    auto q = std::make_unique<Queue>();
    q->config = e;
    q->disabled = disabled.count(e.name) > 0;
    for (int i = 0; i < e.concurrency; ++i) {
      auto poster = posters(e);
      if (!poster) {
        return fail(poster.error().code, "endpoint " + e.name + ": " + poster.error().message);
      }
      q->posters.push_back(std::move(poster).value());
    }
    s->queues_[e.name] = std::move(q);
  }
  for (auto& [name, q] : s->queues_) {
    for (auto& poster : q->posters) {
      q->threads.emplace_back([s = s.get(), q = q.get(), p = poster.get()] {
        try {
          s->work(*q, *p);
        } catch (const std::exception& e) {
          spdlog::critical("deliver: a delivery worker threw: {}", e.what());
          std::abort();
        }
      });
    }
  }
  return s;
}

Scheduler::~Scheduler() {
  stopping_ = true;
  for (auto& [name, q] : queues_) {
    {
      std::lock_guard lock(q->mu);
      q->cv.notify_all();
    }
    for (auto& t : q->threads) t.join();
  }
}

size_t Scheduler::enqueue(std::vector<v1::OutboxEntry> entries) {
  // In order first: the workers run while this inserts, and one that took an episode's head
  // before an earlier entry of the same call was inserted would deliver out of order (a replay
  // revives entries in the outbox's key order, not the topic's).
  std::stable_sort(entries.begin(), entries.end(), before);
  size_t ignored = 0;
  for (auto& e : entries) {
    auto it = queues_.find(e.endpoint());
    if (it == queues_.end()) {
      ++ignored;
      continue;
    }
    Queue& q = *it->second;
    std::lock_guard lock(q.mu);
    auto& dq = q.episodes[e.episode_id()];
    const bool busy = q.busy.count(e.episode_id()) > 0;
    auto pos = std::lower_bound(dq.begin(), dq.end(), e, before);
    if (pos != dq.end() && pos->partition() == e.partition() && pos->offset() == e.offset()) {
      continue;  // already queued (a replay of an entry still pending)
    }
    if (pos == dq.begin() && busy) ++pos;  // never ahead of the attempt in flight
    const bool new_head = pos == dq.begin();
    if (new_head && !dq.empty()) q.ready.erase({dq.front().next_attempt_unix(), e.episode_id()});
    const std::string episode = e.episode_id();
    dq.insert(pos, std::move(e));
    if (new_head) q.ready.insert({dq.front().next_attempt_unix(), episode});
    ++q.depth;
    q.cv.notify_one();
  }
  return ignored;
}

Result<void> Scheduler::enable(const std::string& endpoint) {
  auto it = queues_.find(endpoint);
  if (it == queues_.end()) return fail(Errc::kNotFound, "no endpoint named " + endpoint);
  SAMORDNA_TRYV(outbox_->set_disabled(endpoint, false));
  std::lock_guard lock(it->second->mu);
  it->second->disabled = false;
  it->second->cv.notify_all();
  return ok();
}

std::map<std::string, size_t> Scheduler::depths() const {
  std::map<std::string, size_t> out;
  for (const auto& [name, q] : queues_) {
    std::lock_guard lock(q->mu);
    out[name] = q->depth;
  }
  return out;
}

bool Scheduler::disabled(const std::string& endpoint) const {
  auto it = queues_.find(endpoint);
  if (it == queues_.end()) return false;
  std::lock_guard lock(it->second->mu);
  return it->second->disabled;
}

std::optional<Error> Scheduler::failure() const {
  std::lock_guard lock(failure_mu_);
  return failure_;
}

void Scheduler::set_failure(const Error& e) {
  {
    std::lock_guard lock(failure_mu_);
    if (!failure_) failure_ = e;
  }
  spdlog::error("deliver: the outbox failed, stopping deliveries: {}", e.message);
  stopping_ = true;
}

void Scheduler::work(Queue& q, Poster& poster) {
  std::unique_lock lock(q.mu);
  while (!stopping_) {
    if (q.disabled || q.ready.empty()) {
      q.cv.wait_for(lock, std::chrono::seconds{1});
      continue;
    }
    const auto [due, episode] = *q.ready.begin();
    const int64_t now = options_.now();
    if (due > now) {
      q.cv.wait_for(lock, std::chrono::seconds{std::min<int64_t>(due - now, 1)});
      continue;
    }
    q.ready.erase(q.ready.begin());
    q.busy.insert(episode);
    v1::OutboxEntry entry = q.episodes[episode].front();
    attempt(q, poster, entry, lock);  // unlocks while it posts
    q.busy.erase(episode);
    q.cv.notify_all();
  }
}

void Scheduler::attempt(Queue& q, Poster& poster, v1::OutboxEntry& entry,
                        std::unique_lock<std::mutex>& lock) {
  lock.unlock();
  const EndpointConfig& c = q.config;
  v1::Notification n;
  std::optional<std::string> body;
  if (n.ParseFromString(entry.notification())) body = render_body(c, n);
  const int64_t started = options_.now();

  v1::DeliveryStatus status;
  status.set_notification_id(entry.notification_id());
  status.set_endpoint(c.name);
  *status.mutable_organisation() = c.organisation;
  status.set_episode_id(entry.episode_id());

  Decision decision;
  std::string reason;
  double seconds = 0;
  if (!body) {
    decision.verdict = Decision::Verdict::kDeadLetter;
    decision.code = "unprintable";
    reason = "the notification cannot be rendered as " +
             std::string(c.format == Format::kFhir ? "fhir" : "json");
  } else {
    const std::string& id = entry.notification_id();
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", c.format == Format::kFhir ? "application/fhir+json" : "application/json"},
        {"webhook-id", id},
        {"webhook-timestamp", std::to_string(started)},
        {"webhook-signature", signature_header(c.secrets, id, started, *body)},
    };
    const auto t0 = std::chrono::steady_clock::now();
    const PostResult r = poster.post(c.endpoint, headers, *body, started);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const int64_t ended = options_.now();
    entry.set_attempts(entry.attempts() + 1);
    if (entry.first_attempt_unix() == 0) entry.set_first_attempt_unix(started);
    entry.set_last_status(r.outcome.status.value_or(0));
    decision =
        decide(options_.retry, entry.attempts(),
               std::chrono::seconds{std::max<int64_t>(0, ended - entry.first_attempt_unix())},
               r.outcome, uniform());
    reason = r.outcome.status ? "HTTP " + std::to_string(*r.outcome.status) : r.failure;
    if (decision.verdict == Decision::Verdict::kRetry)
      entry.set_next_attempt_unix(ended + decision.delay.count());
  }
  status.set_attempts(entry.attempts());
  status.set_last_status(entry.last_status());
  status.set_reason(reason);
  status.set_at_unix(options_.now());

  enum class Then { kPop, kKeep, kDisable } then = Then::kKeep;
  Result<void> stored = ok();
  std::string outcome;
  switch (decision.verdict) {
    case Decision::Verdict::kDelivered:
      stored = outbox_->remove(entry);
      status.set_state(v1::DeliveryStatus::DELIVERED);
      outcome = "delivered";
      then = Then::kPop;
      if (stored && entry.committed_unix_ms() > 0) {
        reporter_->delivered(
            c.name, static_cast<double>(wall_now_ms() - entry.committed_unix_ms()) / 1000.0);
      }
      break;
    case Decision::Verdict::kRetry:
      stored = outbox_->update(entry);
      status.set_state(v1::DeliveryStatus::RETRYING);
      status.set_next_attempt_unix(entry.next_attempt_unix());
      outcome = "retry";
      break;
    case Decision::Verdict::kDeadLetter: {
      entry.set_dead_code(decision.code);
      status.set_state(v1::DeliveryStatus::DEAD_LETTERED);
      status.set_code(decision.code);
      auto confirmed = reporter_->dead_letter(status, n);
      if (!confirmed) {
        // Not confirmed: the entry stays pending and is tried again later (a dead letter twice
        // rather than never).
        spdlog::warn("deliver: a dead letter for endpoint {} was not confirmed ({}); again in {} s",
                     c.name, confirmed.error().message, options_.dead_letter_retry.count());
        entry.clear_dead_code();
        entry.set_next_attempt_unix(options_.now() + options_.dead_letter_retry.count());
        stored = outbox_->update(entry);
        status.set_state(v1::DeliveryStatus::RETRYING);
        status.clear_code();
        status.set_next_attempt_unix(entry.next_attempt_unix());
        outcome = "retry";
      } else {
        // The status first, then the outbox: a crash between the two repeats the record, never
        // loses it (the reporter waits for the broker on these states).
        reporter_->status(status);
        stored = outbox_->bury(entry);
        outcome = "dead_letter";
        then = Then::kPop;
      }
      break;
    }
    case Decision::Verdict::kDisableEndpoint:
      status.set_state(v1::DeliveryStatus::DISABLED);
      reporter_->status(status);  // first, as for a dead letter
      stored = outbox_->set_disabled(c.name, true);
      if (stored) stored = outbox_->update(entry);
      status.set_state(v1::DeliveryStatus::DISABLED);
      outcome = "disabled";
      then = Then::kDisable;
      break;
  }
  if (!stored) {
    set_failure(stored.error());
    lock.lock();
    return;
  }
  reporter_->attempted(c.name, outcome, seconds);
  if (then == Then::kKeep || decision.verdict == Decision::Verdict::kDelivered) {
    reporter_->status(status);  // DISABLED and DEAD_LETTERED went before the outbox write
  }
  if (decision.verdict == Decision::Verdict::kDeadLetter && then == Then::kPop) {
    spdlog::warn("deliver: endpoint {}: a delivery dead-lettered ({}, {} attempts, {})", c.name,
                 decision.code, entry.attempts(), reason);
  } else if (then == Then::kDisable) {
    spdlog::warn("deliver: endpoint {} answered 410 Gone: disabled until enabled again", c.name);
  }

  lock.lock();
  auto& dq = q.episodes[entry.episode_id()];
  if (then == Then::kPop) {
    dq.pop_front();
    --q.depth;
  } else {
    dq.front() = entry;
  }
  if (then == Then::kDisable) q.disabled = true;
  if (dq.empty()) {
    q.episodes.erase(entry.episode_id());
  } else {
    q.ready.insert({dq.front().next_attempt_unix(), entry.episode_id()});
  }
}

}  // namespace samordna::deliver
