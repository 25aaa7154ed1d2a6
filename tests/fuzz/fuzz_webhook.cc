// libFuzzer target for the delivery connector's parsers (connectors/deliver): what a receiver
// sends back (Retry-After), what an operator writes (a signing secret file, deliver's YAML config),
// and the signature header a receiver checks (verify). None may crash, hang or leak; and what
// verify() accepts must be a signature it could have made: here, with a fixed secret, only sign()'s
// own output.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "connectors/deliver/config.h"
#include "connectors/deliver/retry.h"
#include "connectors/deliver/signature.h"
#include "engine/core/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace samordna::deliver;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  (void)parse_retry_after(input, 1764806400);

  // The config: an error names the file and a line, never crashes (secret files named in it do
  // not exist under this folder, so an endpoint that gets that far fails on them).
  if (auto config = parse_deliver_config(std::string(input), "/nonexistent/deliver.yaml");
      !config) {
    SAMORDNA_CHECK(config.error().message.rfind("/nonexistent/deliver.yaml:", 0) == 0,
                   "a config error starts with file:line");
  }

  if (auto secret = parse_secret(input)) {
    // A secret that parses signs, and its signature verifies.
    const std::string sig = sign(secret.value(), "id", 1, "body");
    SAMORDNA_CHECK(verify({secret.value()}, sig, "id", 1, "body"),
                   "a secret verifies its own signature");
  }

  std::string decoded;
  if (base64_decode(input, decoded)) {
    SAMORDNA_CHECK(base64_encode(decoded).size() == input.size(), "base64 round trip keeps size");
  }

  static const Secret kSecret{std::string(32, 'k')};
  if (verify({kSecret}, input, "id", 1, "body")) {
    SAMORDNA_CHECK(input.find(sign(kSecret, "id", 1, "body")) != std::string_view::npos,
                   "only a real signature verifies");
  }
  return 0;
}
