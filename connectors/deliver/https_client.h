#pragma once

// The HTTP client `samordna deliver` posts webhooks with: HTTPS (Boost.Beast over OpenSSL) with the
// server's certificate verified against a CA bundle and its name (DNS or IP) checked, an optional
// client certificate (mTLS), and every wait bounded. One request per connection for now: a
// delivery is a POST every few seconds per endpoint at most, and a fresh connection never carries
// a half-read answer of an earlier failure into the next attempt.
//
// The outcome is a value (an AttemptOutcome for retry.h, plus a reason for the log): a transport
// failure, a refused certificate, a timeout are outcomes to retry, not errors. Errors (Result) are
// only for the configuration: a CA or certificate file that does not load (named, never quoted).
//
// Never logs or returns a request or response body: they carry patient data.
//
// Thread: one client per thread (each call runs its own io_context).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "connectors/deliver/retry.h"
#include "engine/core/result.h"

namespace samordna::deliver {

struct ClientOptions {
  // PEM bundle of the CAs a receiver's certificate must chain to; empty: the system's (OpenSSL's
  // default verify paths, /etc/ssl/certs on Debian).
  std::string ca_file;
  // Optional client certificate and key (PEM), for receivers that require mTLS.
  std::string client_cert_file;
  std::string client_key_file;
  std::chrono::milliseconds connect_timeout{10'000};  // resolve + connect + TLS handshake
  std::chrono::milliseconds request_timeout{30'000};  // write the request, read the response
  size_t max_response_bytes = 64 * 1024;              // headers + body; a receiver says little
};

// Where a webhook goes. Given as parts, not as a URL: Boost 1.74 has no URL parser, and this
// project does not hand-write one.
struct Endpoint {
  std::string host;  // DNS name or IP address; also the name the certificate must carry
  uint16_t port = 443;
  std::string target = "/";  // path and query, as sent in the request line
  bool tls = true;           // false only for tests and a receiver on the loopback
};

struct PostResult {
  AttemptOutcome outcome;  // status (none on a transport failure) and the parsed Retry-After
  std::string failure;     // on a transport failure: what failed ("connect: Connection refused",
                           // "TLS handshake: certificate verify failed", "timeout"); no contents
};

class HttpsClient {
 public:
  // Loads the CA bundle and the client certificate; kInvalidArgument naming the file that does
  // not load.
  static Result<std::unique_ptr<HttpsClient>> create(ClientOptions options);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // POSTs `body` with `headers` (Content-Type among them; Host, Content-Length and User-Agent are
  // the client's). `now_unix` anchors a Retry-After that is a date.
  PostResult post(const Endpoint& endpoint,
                  const std::vector<std::pair<std::string, std::string>>& headers,
                  const std::string& body, int64_t now_unix);

 private:
  struct Impl;
  explicit HttpsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace samordna::deliver
