#include "engine/core/name_uuid.h"

#include <openssl/sha.h>

#include <array>

namespace samordna {

std::string name_uuid(std::string_view name, std::string_view role) {
  std::string in;
  in.reserve(name.size() + 1 + role.size());
  in.append(name).push_back('\0');
  in.append(role);
  std::array<unsigned char, SHA256_DIGEST_LENGTH> d{};
  SHA256(reinterpret_cast<const unsigned char*>(in.data()), in.size(), d.data());
  d[6] = static_cast<unsigned char>((d[6] & 0x0f) | 0x80);  // version 8
  d[8] = static_cast<unsigned char>((d[8] & 0x3f) | 0x80);  // variant 10
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[d[i] >> 4];
    out += kHex[d[i] & 15];
  }
  return out;
}

}  // namespace samordna
