// Fuzzes the HL7 v2 path as `samordna hl7 parse` and the listener run it: parse, map (ADT and ZSM),
// build the ACK. Must never crash, throw, hang or leak; a reason must never quote the input (the
// digit runs identity numbers are made of); every ACK must parse back and echo MSH-10.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "connectors/hl7/ack.h"
#include "connectors/hl7/adt_mapping.h"

namespace {

void check_no_echo(std::string_view input, const std::string& reason) {
  size_t run = 0;
  for (size_t i = 0; i < reason.size(); ++i) {
    run = (reason[i] >= '0' && reason[i] <= '9') ? run + 1 : 0;
    if (run >= 10 && input.find(reason.substr(i + 1 - run, run)) != std::string_view::npos) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace samordna::hl7;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  static const SenderConfig config = [] {
    SenderConfig c;
    c.parse.max_message_bytes = 64 * 1024;
    c.inpatient_classes = {"I", "INPATIENT"};
    return c;
  }();
  auto processed = process(bytes, config);
  check_no_echo(bytes, processed.mapped.outcome.text);
  std::string ack =
      build_ack(processed.original, processed.mapped.outcome, "F1", samordna::from_unix(0));
  // The ACK is built in UTF-8 (re-encoding for a Latin-1 sender is the writer's job).
  ParseOptions utf8;
  utf8.default_charset = Charset::kUtf8;
  auto back = parse(ack, utf8);
  if (!back) std::abort();
  if (back.value().get("MSA", 2) != processed.original.control_id) std::abort();
  return 0;
}
