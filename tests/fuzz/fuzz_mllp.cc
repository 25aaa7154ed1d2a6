// Fuzzes the MLLP framer: the input is fed whole and again in chunks whose sizes come from the
// input itself; both must give the same frames and errors (a frame split over reads is the same
// frame), and no frame may exceed the maximum.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/hl7/mllp_framer.h"

namespace {

std::vector<std::string> drain(samordna::hl7::MllpFramer& f) {
  std::vector<std::string> out;
  while (f.has_next()) {
    auto r = f.next();
    out.push_back(r ? "+" + r.value() : "!" + r.error().message);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kMax = 256;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  samordna::hl7::MllpFramer whole(kMax);
  whole.feed(bytes);
  auto a = drain(whole);
  samordna::hl7::MllpFramer split(kMax);
  std::vector<std::string> b;
  for (size_t i = 0; i < size;) {
    size_t n = 1 + static_cast<uint8_t>(bytes[i]) % 7;
    split.feed(bytes.substr(i, n));
    for (auto& s : drain(split)) b.push_back(std::move(s));
    i += n;
  }
  if (a != b) std::abort();
  for (const auto& s : a) {
    if (s[0] == '+' && s.size() - 1 > kMax) std::abort();
  }
  return 0;
}
