// Fuzzes the service config loader on a config file's content (parse_service_config). Must never
// crash, throw or hang, and never quote a librdkafka property's value (it may be a password): the
// input's `sasl.password` value must not appear in an error.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "connectors/kafka/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto loaded = samordna::kafka::parse_service_config(text, "/etc/samordna/samordna.yaml");
  // Only when the secret is in the input once, as that property's value: a mutated key that
  // happens to contain it is a key, and keys are named in errors.
  const std::string secret = "hunter2secret";
  const size_t at = text.find(secret);
  const bool only_as_value = at != std::string::npos &&
                             text.find(secret, at + 1) == std::string::npos && at >= 15 &&
                             text.compare(at - 15, 15, "sasl.password: ") == 0;
  if (!loaded && only_as_value && loaded.error().message.find(secret) != std::string::npos) {
    std::abort();
  }
  return 0;
}
