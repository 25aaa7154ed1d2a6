#include "connectors/serve/live.h"

#include <nlohmann/json.hpp>

#include <charconv>

#include "connectors/serve/base64url.h"

namespace samordna::serve {
namespace {

using nlohmann::json;

HttpResponse problem(int status, const char* code, const char* message) {
  HttpResponse r;
  r.status = status;
  r.body = json{{"error", code}, {"message", message}}.dump();
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

HttpResponse stream(std::string body) {
  HttpResponse r;
  r.content_type = "text/event-stream; charset=utf-8";
  r.body = std::move(body);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace

std::string sse_body(const std::vector<LiveItem>& items, int64_t seq) {
  // retry: how long a client waits before asking again after an error (EventSource's field; the
  // app's fetch loop reads it too).
  std::string out = "retry: 2000\n\n";
  if (items.empty()) {
    out += "id: " + std::to_string(seq) + "\nevent: position\ndata: " + json{{"seq", seq}}.dump() +
           "\n\n";
    return out;
  }
  for (const auto& it : items) {
    out += "id: " + std::to_string(it.seq) + "\nevent: notification\ndata: " +
           json{{"seq", it.seq},
                {"kind", it.kind},
                {"ref", base64url_encode(it.notification_id)},
                {"issuedAt", format_utc(it.issued_at)}}
               .dump() +
           "\n\n";
  }
  return out;
}

HttpResponse session_answer(const HttpRequest& req, const Verifier& verifier, Instant now) {
  static constexpr std::string_view kBearer = "Bearer ";
  if (req.authorization.size() <= kBearer.size() ||
      std::string_view(req.authorization).substr(0, kBearer.size()) != kBearer) {
    return problem(401, "unauthorized", "a bearer token is required");
  }
  auto who = verifier.verify(std::string_view(req.authorization).substr(kBearer.size()), now);
  if (!who) return problem(401, "unauthorized", "the token was not accepted");
  HttpResponse r;
  r.headers.emplace_back("Cache-Control", "no-store");
  r.body = json{{"org",
                 {{"kind", v1::Organisation::Kind_Name(who.value().org.kind)},
                  {"id", who.value().org.id}}},
                {"role", role_name(who.value().role)},
                {"expiresAt", format_utc(who.value().expires)}}
               .dump();
  return r;
}

LiveHub::LiveHub(const ReadModel& model, const Verifier& verifier, const Clock& clock,
                 LiveOptions options)
    : model_(model), verifier_(verifier), clock_(clock), options_(options) {
  thread_ = std::thread([this] { loop(); });
}

LiveHub::~LiveHub() { stop(); }

size_t LiveHub::waiting() const {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

void LiveHub::handle(const HttpRequest& req, Reply reply) {
  static constexpr std::string_view kBearer = "Bearer ";
  if (req.authorization.size() <= kBearer.size() ||
      std::string_view(req.authorization).substr(0, kBearer.size()) != kBearer) {
    return reply(problem(401, "unauthorized", "a bearer token is required"));
  }
  auto who =
      verifier_.verify(std::string_view(req.authorization).substr(kBearer.size()), clock_.now());
  if (!who) return reply(problem(401, "unauthorized", "the token was not accepted"));
  // The stream tells of notifications addressed to the caller: the inbox's roles.
  if (who.value().role != Role::kCaseworker && who.value().role != Role::kCoordinator) {
    return reply(problem(403, "forbidden", "this role has no inbox"));
  }
  std::optional<int64_t> after;
  for (const auto& [k, v] : req.query) {
    if (k == "personalId") return reply(problem(400, "bad_request", "no identity numbers here"));
    if (k != "after") continue;
    int64_t n = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size() || n < 0) {
      return reply(problem(400, "bad_request", "after must be a non-negative integer"));
    }
    after = n;
  }
  if (!after) {
    // A first request learns where the stream stands, so that it does not get the history (the
    // inbox has that).
    auto head = model_.live_head();
    if (!head) return reply(problem(503, "unavailable", "the read model is not available"));
    return reply(stream(sse_body({}, head.value())));
  }
  std::unique_lock lock(mu_);
  if (stopping_) {
    lock.unlock();
    return reply(stream(sse_body({}, *after)));
  }
  if (waiting_.size() >= options_.max_waiting) {
    lock.unlock();
    auto r = problem(503, "unavailable", "too many live streams");
    r.headers.emplace_back("Retry-After", "5");
    return reply(std::move(r));
  }
  waiting_.push_back(Waiter{who.value().org, *after,
                            clock_.now() + std::chrono::ceil<std::chrono::seconds>(options_.hold),
                            std::move(reply)});
  cv_.notify_one();
}

void LiveHub::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, options_.poll);
    if (stopping_) break;
    if (waiting_.empty()) continue;
    // The read model is queried outside the lock so that new requests are not held up.
    std::list<Waiter> mine;
    mine.swap(waiting_);
    lock.unlock();
    auto head = model_.live_head();
    const auto now = clock_.now();
    std::list<Waiter> keep;
    for (auto& w : mine) {
      std::vector<LiveItem> items;
      // Only when something was stored after the waiter's cursor.
      if (head && head.value() > w.after) {
        auto got = model_.live_since(w.org, w.after, options_.max_events);
        if (got) {
          items = std::move(got).value();
          // Nothing up to the head was for this organisation: the cursor moves there, so the
          // next look is again only at what is newer. (Rows are stored in rowid order and
          // committed whole, so nothing at or below the head can still appear.)
          if (items.empty()) w.after = head.value();
        }
      }
      if (!items.empty()) {
        w.reply(stream(sse_body(items, items.back().seq)));
      } else if (now >= w.until) {
        w.reply(stream(sse_body({}, w.after)));
      } else {
        keep.push_back(std::move(w));
      }
    }
    lock.lock();
    waiting_.splice(waiting_.end(), keep);
  }
  // Stopping: everyone still waiting gets an empty answer and comes back (to another instance).
  auto rest = std::move(waiting_);
  waiting_.clear();
  lock.unlock();
  for (auto& w : rest) w.reply(stream(sse_body({}, w.after)));
}

void LiveHub::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace samordna::serve
