#pragma once

// Router: method + path template -> handler, and the error bodies of each route family.
//
// Templates are literal segments and whole-segment parameters: "/fhir/Encounter/{id}". A literal
// wins over a parameter at the same position; a path no template matches gets 404, a path that
// matches with another method 405 with an Allow header. A trailing slash is its own path.
//
// Errors the server itself produces (bad HTTP, too large, timeout, 404/405, a handler that threw
// or dropped its Responder) are shaped by the error formatter of the longest registered path
// prefix: FHIR routes answer an OperationOutcome, the API a JSON problem document. Without one,
// a text/plain line.
//
// Thread-safety: build it on one thread, then hand it to Server::start; dispatch() is const and
// may run on every server thread at once.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/http/message.h"

namespace samordna::http {

// Answers a request exactly once, from any thread. Dropping every copy of a Responder unanswered is
// a bug in the handler: the server then answers 500 itself. Calling it a second time is ignored.
class Responder {
 public:
  using Fn = std::function<void(Response)>;
  // `if_dropped` makes the answer when every copy goes away unanswered (the router passes a 500).
  explicit Responder(Fn fn, std::function<Response()> if_dropped = {});
  void operator()(Response response) const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

using Handler = std::function<Response(const Request&)>;
using AsyncHandler = std::function<void(Request, Responder)>;

// What went wrong, as the server saw it. `code` is a stable token ("not_found",
// "method_not_allowed", "bad_request", "header_too_large", "body_too_large", "timeout",
// "handler_failed", "unavailable"); `detail` is a sentence for a person. Neither ever holds
// anything from the request beyond its method.
struct ServerError {
  int status = 500;
  std::string_view code;
  std::string detail;
};
using ErrorFormatter = std::function<Response(const ServerError&)>;

struct RouteOptions {
  size_t max_body_bytes =
      size_t{1024} * 1024;  // over it: 413 (for a declared length before any is read)
};

class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  // A template must start with "/". Registering the same method and template twice is a bug
  // (aborts), as is a malformed template.
  void add(std::string method, std::string_view path_template, Handler handler,
           RouteOptions options = {});
  void add_async(std::string method, std::string_view path_template, AsyncHandler handler,
                 RouteOptions options = {});
  // Error bodies for every path under `prefix` ("/fhir", "/api"; "" for the default).
  void set_error_formatter(std::string prefix, ErrorFormatter formatter);

  // What the server does with a request before reading its body: the route it would take.
  struct Match {
    enum class Kind { kFound, kNotFound, kMethodNotAllowed } kind = Kind::kNotFound;
    std::string route;  // the template, when found
    Fields params;      // decoded path parameters, when found
    std::string allow;  // "GET, PUT", for 405
    size_t max_body_bytes = 0;
    const void* entry = nullptr;  // opaque, for dispatch()
  };
  Match match(std::string_view method, std::string_view path) const;

  // Runs the matched handler (or answers 404/405 through the formatter); `done` gets the response
  // exactly once, possibly on another thread for an async route. Fills request.route and
  // request.path_params. A handler that throws gets a 500 (the exception is not rethrown).
  void dispatch(Request request, std::function<void(Response)> done) const;
  // dispatch() and wait for the answer: for tests without a socket.
  Response handle(Request request) const;

  // The formatted body for an error the server produced for `path`.
  Response error(std::string_view path, const ServerError& error) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Splits a request target ("/a%20b/c?x=1&y=%C3%A5") into its decoded path and query parameters.
// False on a target that is not origin-form or has a bad percent-escape.
bool parse_target(std::string_view target, std::string& path, Fields& query);

}  // namespace samordna::http
