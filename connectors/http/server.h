#pragma once

// The one HTTP/1.1 server behind every samordna HTTP endpoint: the FHIR listener, `samordna
// serve`'s API and web app, and the /metrics endpoints. Boost.Beast over Asio, plain or TLS
// (OpenSSL), keep-alive, a fixed small thread pool (connectors/http/README.md).
//
// Handlers never see a socket: a route is a plain function Request -> Response (unit-testable by
// building a Request by hand), or an async one that answers later through a Responder, e.g. once
// Kafka confirms that the events are durable, without holding a server thread meanwhile.
//
// Patient data: the server never logs a query string, a header value or a body. What it reports to
// the observer is the route *template* ("/fhir/Encounter/{id}"), never the path.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/http/router.h"
#include "engine/core/result.h"

namespace samordna::http {

struct TlsOptions {
  std::string cert_file;  // PEM certificate chain, the server's own certificate first
  std::string key_file;   // PEM private key
  // Client certificates (mTLS): empty = none asked for. Otherwise a client that presents one must
  // present one that chains to this CA (PEM) or the handshake fails; its subject reaches the
  // handlers as Request::tls_peer_subject.
  std::string client_ca_file;
  bool require_client_cert = false;  // with client_ca_file: refuse clients without a certificate
};

struct ServerOptions {
  std::string address = "127.0.0.1";  // "0.0.0.0" or "::" to listen everywhere
  uint16_t port = 0;                  // 0: an ephemeral port, see Server::port()
  int threads = 2;

  size_t max_header_bytes = size_t{16} * 1024;  // request line + headers; over it: 431
  size_t max_connections = 512;                 // over it, a new connection is closed at once
  // Body limits are per route (RouteOptions::max_body_bytes); over it: 413.

  // Every wait on the network is bounded. The header clock starts with the request's first byte
  // (for a new connection, with the accept), so a client trickling bytes (slowloris) is cut off
  // after header_timeout whatever its pace: 408 and close.
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};   // from the end of the headers; 408 and close
  std::chrono::milliseconds idle_timeout{60'000};   // keep-alive: between requests; silent close
  std::chrono::milliseconds write_timeout{30'000};  // one response; close
  // stop(): how long requests in flight (and async handlers) get to answer before the sockets are
  // closed under them.
  std::chrono::milliseconds shutdown_grace{10'000};

  std::optional<TlsOptions> tls;
  // Stop gracefully on SIGTERM and SIGINT (the listeners' CLI sets it; tests do not).
  bool stop_on_signals = false;
};

// One finished exchange, for metrics. `route` is the template that matched, or "" when none did
// (404, or an error before routing such as 400/408/431). Never a path, query or body.
struct RequestRecord {
  std::string_view method;
  std::string_view route;
  int status = 0;
  std::chrono::nanoseconds latency{0};  // from the request's first byte to the response written
};
// Called on a server thread after each response (or failed write); must be quick and thread-safe.
using Observer = std::function<void(const RequestRecord&)>;

// Owns its threads and sockets; every method may be called from any thread.
class Server {
 public:
  // Binds, listens and starts the thread pool. Fails (kIo / kInvalidArgument) on a port in use or
  // TLS files that do not load, with a message naming the file, never its contents.
  static Result<std::unique_ptr<Server>> start(ServerOptions options, Router router,
                                               Observer observer = {});
  ~Server();  // stop() and wait()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;  // the bound port

  // Graceful: stops accepting, closes idle connections, lets requests in flight answer (with
  // Connection: close) for up to shutdown_grace, then closes the rest. Returns at once; idempotent.
  void stop();
  // Blocks until the server has stopped (after stop(), or a signal with stop_on_signals).
  void wait();

  size_t open_connections() const;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace samordna::http
