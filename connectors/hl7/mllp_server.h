#pragma once

// The MLLP server of `samordna hl7 listen` (connectors/hl7/README.md, "The listener"): Boost.Asio,
// plain TCP or TLS (asio::ssl over OpenSSL), one MllpFramer per connection, every complete frame
// handed to the Acknowledger and its ACK written back framed, in order, one message at a time per
// connection (frames that arrive meanwhile wait, up to a bound, then reading pauses).
//
// Connections: at most `max_connections` at once (more are closed at accept), TCP keep-alive on,
// closed after `idle_timeout` without a byte (never while a message is in flight).
// Logs name the peer's address and counts, never message content.
//
// Threads: run() drives the server on `threads` threads and returns once stopped. stop() may be
// called from any thread (or SIGTERM/SIGINT when run_until_signal() is used): it stops accepting
// and reading, answers every message already received, closes the connections, and returns the
// threads within `bound`.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "connectors/hl7/acknowledger.h"
#include "engine/core/result.h"

namespace samordna::hl7 {

struct ServerOptions {
  std::string bind_address = "0.0.0.0";
  uint16_t port = 2575;  // 0: any free port (see MllpServer::port())
  std::size_t max_frame_bytes = 1 << 20;
  std::size_t max_connections = 1000;
  std::chrono::seconds idle_timeout{600};
  // Both set: TLS (PEM files: the certificate chain and its private key).
  std::string tls_cert, tls_key;
  int threads = 2;
  std::chrono::milliseconds stop_bound{10000};
};

struct ServerStats {
  uint64_t accepted_connections = 0;
  uint64_t refused_connections = 0;
  uint64_t frames = 0;
  uint64_t framing_errors = 0;
  uint64_t idle_closed = 0;
  uint64_t discarded_bytes = 0;
  size_t open_connections = 0;
};

class MllpServer {
 public:
  // Binds and listens (errors: the address in use, a TLS file that does not load).
  static Result<std::unique_ptr<MllpServer>> create(Acknowledger& acknowledger,
                                                    ServerOptions options);
  ~MllpServer();

  uint16_t port() const;  // the port bound

  // Serves until stop(); with `signals`, SIGTERM and SIGINT call stop() too.
  void run(bool signals = false);
  void stop();

  ServerStats stats() const;

  struct Impl;

 private:
  explicit MllpServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace samordna::hl7
