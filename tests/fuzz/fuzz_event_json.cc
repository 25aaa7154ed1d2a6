// Fuzzes the Event JSON reader as `simulate`, `produce` and `demo` run it on one line: the JSON
// codec, the reason for a refused line, and validate_event on a parsed one. Must never crash,
// throw, hang or leak; a reason must never quote the input (checked for the digit runs that
// identity numbers are made of). The codec's fast path (json_fast.h) is checked against protobuf's
// converter on every input: the same outcome, the same message, the same printed bytes.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/core/json_codec.h"
#include "engine/core/json_error.h"
#include "engine/state/episode_machine.h"
#include "samordna/v1/event.pb.h"

namespace {

// A run of 10 or more digits from the input appearing in a reason is an echo of the input.
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
  static samordna::JsonCodec codec;
  static samordna::JsonCodec converter(samordna::JsonCodec::Path::kConverterOnly);
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  samordna::v1::Event event;
  std::string parser_message;
  const bool parsed = codec.parse(line, event, parser_message);
  {
    samordna::v1::Event slow;
    std::string slow_message;
    if (converter.parse(line, slow, slow_message) != parsed) std::abort();
    if (parsed && slow.SerializeAsString() != event.SerializeAsString()) std::abort();
    if (!parsed && slow_message != parser_message) std::abort();
  }
  if (!parsed) {
    check_no_echo(line, samordna::describe_json_error(line, parser_message));
    return 0;
  }
  if (auto rejection = samordna::state::validate_event(event)) {
    check_no_echo(line, rejection->reason);
    return 0;
  }
  // An accepted event prints back as JSON: the output side must hold what the input side took.
  std::string out, slow_out;
  if (!codec.print(event, out)) std::abort();
  if (!converter.print(event, slow_out) || slow_out != out) std::abort();
  return 0;
}
