#include "connectors/deliver/signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

#include "engine/core/check.h"

namespace samordna::deliver {
namespace {

constexpr std::string_view kPrefix = "whsec_";
constexpr std::string_view kVersion = "v1,";

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string mac(const Secret& secret, std::string_view id, int64_t timestamp,
                std::string_view body) {
  std::string content;
  content.reserve(id.size() + body.size() + 24);
  content += id;
  content += '.';
  content += std::to_string(timestamp);
  content += '.';
  content += body;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  SAMORDNA_CHECK(HMAC(EVP_sha256(), secret.key.data(), static_cast<int>(secret.key.size()),
                      reinterpret_cast<const unsigned char*>(content.data()), content.size(), out,
                      &len) != nullptr,
                 "HMAC-SHA256 cannot fail on memory input");
  return std::string(reinterpret_cast<const char*>(out), len);
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool base64_decode(std::string_view text, std::string& out) {
  // EVP_DecodeBlock takes whole quads only and writes the padding as zero bytes: check the shape
  // here and drop those bytes after.
  if (text.empty() || text.size() % 4 != 0) return false;
  size_t pad = 0;
  if (text.back() == '=') ++pad;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
  for (size_t i = 0; i < text.size() - pad; ++i) {
    const char c = text[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/';
    if (!ok) return false;
  }
  out.assign(3 * text.size() / 4, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0 || static_cast<size_t>(n) < pad) return false;
  out.resize(static_cast<size_t>(n) - pad);
  return true;
}

Result<Secret> parse_secret(std::string_view text) {
  text = trim(text);
  if (text.starts_with(kPrefix)) text.remove_prefix(kPrefix.size());
  Secret s;
  if (!base64_decode(text, s.key)) {
    return fail(Errc::kInvalidArgument, "a signing secret is whsec_ followed by base64");
  }
  if (s.key.size() < 24 || s.key.size() > 64) {
    return fail(Errc::kInvalidArgument, "a signing secret must hold 24 to 64 bytes (it holds " +
                                            std::to_string(s.key.size()) + ")");
  }
  return s;
}

std::string sign(const Secret& secret, std::string_view id, int64_t timestamp,
                 std::string_view body) {
  return std::string(kVersion) + base64_encode(mac(secret, id, timestamp, body));
}

std::string signature_header(const std::vector<Secret>& secrets, std::string_view id,
                             int64_t timestamp, std::string_view body) {
  std::string out;
  for (const auto& s : secrets) {
    if (!out.empty()) out += ' ';
    out += sign(s, id, timestamp, body);
  }
  return out;
}

bool verify(const std::vector<Secret>& secrets, std::string_view header, std::string_view id,
            int64_t timestamp, std::string_view body) {
  std::vector<std::string> expected;
  expected.reserve(secrets.size());
  for (const auto& s : secrets) expected.push_back(base64_encode(mac(s, id, timestamp, body)));
  bool any = false;
  while (!header.empty()) {
    const size_t space = header.find(' ');
    std::string_view token = header.substr(0, space);
    header = space == std::string_view::npos ? std::string_view{} : header.substr(space + 1);
    if (!token.starts_with(kVersion)) continue;  // other schemes (v1a, ...) are not ours
    token.remove_prefix(kVersion.size());
    for (const auto& e : expected) {
      if (e.size() == token.size() && CRYPTO_memcmp(e.data(), token.data(), e.size()) == 0) {
        any = true;
      }
    }
  }
  return any;
}

}  // namespace samordna::deliver
