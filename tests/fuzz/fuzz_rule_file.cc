// Fuzzes the rule-file loader on one file's content (load_rule_text: the YAML reader, every field
// check and the book check). Must never crash, throw or hang; every problem is an error value.

#include <cstddef>
#include <cstdint>
#include <string>

#include "rules/rule_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const samordna::rules::LoadedRules loaded = samordna::rules::load_rule_text(text, "fuzz.yaml");
  for (const auto& e : loaded.errors) (void)samordna::rules::to_string(e);
  return 0;
}
