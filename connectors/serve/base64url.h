#pragma once

// base64url without padding (RFC 4648 section 5), through OpenSSL's codec. The API names a
// notification in a path by the base64url of its id (`ref`): notification ids hold '/', which a
// path segment cannot carry; JWKs carry their key material in it too.

#include <optional>
#include <string>
#include <string_view>

namespace samordna::serve {

std::string base64url_encode(std::string_view bytes);
// nullopt when `text` is not unpadded base64url.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace samordna::serve
