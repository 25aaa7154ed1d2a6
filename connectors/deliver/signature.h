#pragma once

// Standard Webhooks signatures (https://www.standardwebhooks.com, "Signature scheme"): the three
// headers every delivery carries, and their check, which receivers and the tests use.
//
//   webhook-id:        the notification id: the receiver's idempotency key, the same on every retry
//   webhook-timestamp: the attempt's time, integer seconds since the epoch
//   webhook-signature: "v1,<base64 HMAC-SHA256 of '<id>.<timestamp>.<body>'>", one per secret,
//                      separated by spaces, so a receiver that has either the old or the new
//                      secret accepts a delivery during a rotation
//
// Secrets are "whsec_" followed by the base64 of the key bytes (plain base64 is accepted too). They
// are read from files (never the command line) and never logged; errors about them name the file,
// not the content. HMAC and base64 are OpenSSL's.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/result.h"

namespace samordna::deliver {

// A signing key: the raw bytes.
struct Secret {
  std::string key;
};

// "whsec_<base64>" or "<base64>" (surrounding whitespace ignored, as a file's last newline).
// kInvalidArgument, without quoting the text, when it is not base64 or shorter than 24 bytes
// (Standard Webhooks asks for 24 to 64).
Result<Secret> parse_secret(std::string_view text);

// "v1,<base64 HMAC-SHA256(key, id + '.' + timestamp + '.' + body)>".
std::string sign(const Secret& secret, std::string_view id, int64_t timestamp,
                 std::string_view body);

// The webhook-signature header: one signature per secret, space-separated, in the given order.
std::string signature_header(const std::vector<Secret>& secrets, std::string_view id,
                             int64_t timestamp, std::string_view body);

// True when any "v1," signature in `header` matches one of `secrets` (constant-time compare).
// Receivers must also check the timestamp against their clock; `verify` does not.
bool verify(const std::vector<Secret>& secrets, std::string_view header, std::string_view id,
            int64_t timestamp, std::string_view body);

// Base64 (RFC 4648, with padding) through OpenSSL; decode returns false on anything else.
std::string base64_encode(std::string_view bytes);
bool base64_decode(std::string_view text, std::string& out);

}  // namespace samordna::deliver
