#pragma once

// The HTTP API of `samordna serve` as plain functions: Request -> Response, no socket. The app
// hands each request the HTTP server (connectors/http) parsed to Api::handle and writes back what
// it returns; the tests call handle() directly. docs: connectors/serve/README.md, the OpenAPI 3
// document at GET /openapi.json (openapi.cc).
//
// Every route under /api/v1 needs a bearer token (auth.h) and is authorised per role and
// organisation (README "Who sees what"). Something of another organisation is answered exactly
// like something absent: 404 with the same body. Every request to a route that can carry personal
// data is audited (audit.h) before it is answered; when the audit record cannot be made durable,
// the answer is 503 and carries nothing.
//
// Threads: handle() may be called from any number of threads at once; the hooks must allow that.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "connectors/serve/audit.h"
#include "connectors/serve/auth.h"
#include "connectors/serve/read_model.h"
#include "engine/core/result.h"
#include "engine/core/time.h"
#include "samordna/v1/event.pb.h"

namespace samordna::serve {

// A request as the HTTP server (connectors/http) parsed it: path and query percent-decoded.
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  // The decoded path. An id may hold '/' (notification ids do: "ep1/e/ev2/1"); the client
  // percent-encodes it (%2F) and the API takes everything after ".../notifications/" (before a
  // final "/ack" of a POST) as the id.
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::string authorization;                               // the Authorization header, if any
  std::string accept;                                      // the Accept header, if any
  std::string body;
  // The subject (RFC 2253) of the client certificate the TLS handshake verified (mTLS), if any.
  std::optional<std::string> client_certificate_subject;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Publishes one event and returns once it is durable (the publisher, connectors/kafka), or the
// reason it is not.
using EventPublisher = std::function<Result<void>(const v1::Event&)>;

struct ReadModelStatus {
  bool ready = false;  // every partition consumed to its end once since start
  int64_t lag = -1;    // records behind the brokers' ends, summed; -1 unknown
};

struct ApiHooks {
  AuditSink audit;                          // required
  EventPublisher publish;                   // required for POST .../ack
  std::function<ReadModelStatus()> status;  // /readyz; unset = always ready
  // The Prometheus text for GET /metrics (operator role); unset = 404. The metrics module fills it.
  std::function<std::string()> metrics;
  // Called once per answered request with the route template (never the raw path: it may hold
  // ids), for request counters and latency histograms.
  std::function<void(const std::string& method, const std::string& route, int status,
                     std::chrono::nanoseconds took)>
      observe;
  // mTLS: the caller a verified client certificate stands for (client_certs.h), or nullopt for
  // a subject the deployment did not map. Asked only when the request has no bearer token; unset
  // = certificates authenticate no one.
  std::function<std::optional<Principal>(const std::string& subject)> client_certificate;
};

class Api {
 public:
  Api(const ReadModel& model, const Verifier& verifier, const Clock& clock, ApiHooks hooks);

  HttpResponse handle(const HttpRequest& request) const;

  static constexpr int64_t kMaxLimit = 500;
  static constexpr int64_t kDefaultLimit = 50;
  // The event source of acknowledgements published here (Event.source).
  static constexpr const char* kAckSource = "samordna-serve";
  // A FHIR acknowledgement message (MedCom-style ok / transient-error / fatal-error) of a notice
  // deliver sent as a FHIR message (README "Routes").
  static constexpr const char* kFhirAckRoute = "/fhir/$process-message";

 private:
  const ReadModel& model_;
  const Verifier& verifier_;
  const Clock& clock_;
  ApiHooks hooks_;
};

// The event id of an acknowledgement of `notification_id` by `org`: the same on every retry and
// every instance, so a repeated POST .../ack is one event to the engine.
std::string ack_event_id(const std::string& notification_id, const OrgRef& org);

// The OpenAPI 3 document (openapi.cc).
std::string openapi_document();

}  // namespace samordna::serve
