#pragma once

// Request and Response as handlers see them: plain values, no socket, so a handler is unit-tested
// by building a Request by hand.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace samordna::http {

using Fields = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // as sent: "GET", "POST", ...
  std::string path;    // percent-decoded path without the query: "/fhir/Encounter/abc"
  std::string route;   // the template that matched: "/fhir/Encounter/{id}" (set by the router)
  Fields path_params;  // {"id", "abc"}: decoded, one per {name} of the template
  Fields query;        // decoded ("+" is a space), in order; a key may repeat
  Fields headers;      // names lower-case, values as sent, in order
  std::string body;

  std::string peer_address;  // "127.0.0.1"
  uint16_t peer_port = 0;
  bool tls = false;
  // The subject (RFC 2253, "CN=ward-7,O=Region Uppsala") of the client certificate the TLS
  // handshake verified against the configured CA; empty when the client presented none.
  std::optional<std::string> tls_peer_subject;

  // The first value of a header (name in any case), of a path parameter, of a query parameter.
  std::optional<std::string_view> header(std::string_view name) const;
  std::optional<std::string_view> param(std::string_view name) const;
  std::optional<std::string_view> query_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  Fields headers;  // Content-Type among them; Content-Length and Connection are the server's
  std::string body;

  static Response with(int status, std::string content_type, std::string body);
  Response& set(std::string name, std::string value);  // replaces a header of that name
  std::optional<std::string_view> header(std::string_view name) const;
};

// "Not Found" for 404 and so on; "Unknown" for a code HTTP does not name.
std::string_view reason_phrase(int status);

}  // namespace samordna::http
