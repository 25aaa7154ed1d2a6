// Fuzzes the Event JSON reader as `simulate`, `produce` and `demo` run it on one line: the JSON
// codec, the reason for a refused line, and validate_event on a parsed one. Must never crash,
// throw, hang or leak; a reason must never quote the input (checked for the digit runs that
// identity numbers are made of).

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
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  samordna::v1::Event event;
  std::string parser_message;
  if (!codec.parse(line, event, parser_message)) {
    check_no_echo(line, samordna::describe_json_error(line, parser_message));
    return 0;
  }
  if (auto rejection = samordna::state::validate_event(event)) {
    check_no_echo(line, rejection->reason);
    return 0;
  }
  // An accepted event prints back as JSON: the output side must hold what the input side took.
  std::string out;
  if (!codec.print(event, out)) std::abort();
  return 0;
}
