#pragma once

// The live stream of `samordna serve` (GET /api/v1/events/stream): server-sent events that tell
// the web app, without a reload, that a notification for the caller's organisation arrived (a
// new notice, a missed deadline, a reminder, a held notice) as soon as the read model has stored
// it. docs: connectors/serve/README.md "Live".
//
// Why long-poll SSE: the HTTP server (connectors/http) answers each request with one whole
// response, and the browser's EventSource cannot send the bearer token. So the app reads the
// stream with fetch() (token in the Authorization header, never in the URL) and asks again after
// each answer. A request waits here, holding no server thread, until something for its
// organisation is stored after its cursor (`after`, the `seq` of the last event it saw) or
// `hold` has passed; then it gets a short text/event-stream body and comes back.
//
// The events carry no patient data: kind, ref (as in the inbox) and seq. The app then fetches
// the inbox or the worklist through the audited routes. So the stream itself is not audited.
//
// Threads: handle() from any server thread; one thread of its own answers waiting requests.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

#include "connectors/serve/api.h"
#include "connectors/serve/auth.h"
#include "connectors/serve/read_model.h"
#include "engine/core/time.h"

namespace samordna::serve {

struct LiveOptions {
  std::chrono::milliseconds hold{20'000};  // an empty answer after this long (< server timeouts)
  std::chrono::milliseconds poll{250};     // how often the read model is looked at
  size_t max_waiting = 1024;               // requests waiting at once; beyond: 503
  int64_t max_events = 100;                // events per answer
};

class LiveHub {
 public:
  using Reply = std::function<void(HttpResponse)>;

  LiveHub(const ReadModel& model, const Verifier& verifier, const Clock& clock,
          LiveOptions options = {});
  ~LiveHub();
  LiveHub(const LiveHub&) = delete;
  LiveHub& operator=(const LiveHub&) = delete;

  // Answers `request` through `reply`, exactly once: at once (401/403/400, or a first request
  // without `after`: the current position), or later from the hub's thread.
  void handle(const HttpRequest& request, Reply reply);

  // Answers every waiting request (an empty answer) and stops the thread. Idempotent.
  void stop();

  size_t waiting() const;

  static constexpr const char* kRoute = "/api/v1/events/stream";

 private:
  struct Waiter {
    OrgRef org;
    int64_t after = 0;
    Instant until{};
    Reply reply;
  };
  void loop();

  const ReadModel& model_;
  const Verifier& verifier_;
  const Clock& clock_;
  LiveOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::list<Waiter> waiting_;
  bool stopping_ = false;
  std::thread thread_;
};

// GET /api/v1/session: who the token says the caller is ({"org": {"kind", "id"}, "role",
// "expiresAt"}), so the web app's login page can check a token and pick the views for it
// without reading the JWT itself. 401 for a missing or refused token. No patient data; not
// audited.
HttpResponse session_answer(const HttpRequest& request, const Verifier& verifier, Instant now);

// The text/event-stream body for `items` ("id:", "event: notification", "data: {json}" each) and
// a `retry:` hint; with no items, one `event: position` carrying `seq`.
std::string sse_body(const std::vector<LiveItem>& items, int64_t seq);

}  // namespace samordna::serve
