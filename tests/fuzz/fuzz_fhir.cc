// Fuzzes the FHIR path as `samordna fhir parse` and the listener run it: map an Encounter or a
// transaction/batch Bundle (with and without a listener memory: a known admission also reads a
// Patient update), read meta.source, build the OperationOutcome and the Bundle response. Must never
// crash, throw, hang or leak; no diagnostic may quote the input (the digit runs identity numbers
// are made of).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "connectors/fhir/mapping.h"
#include "connectors/fhir/outcome.h"
#include "connectors/fhir/snapshot.h"

namespace {

void check_no_echo(std::string_view input, const std::string& text) {
  size_t run = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    run = (text[i] >= '0' && text[i] <= '9') ? run + 1 : 0;
    if (run >= 10 && input.find(text.substr(i + 1 - run, run)) != std::string_view::npos) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace samordna::fhir;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  static const SenderConfig config = [] {
    SenderConfig c;
    c.max_resource_bytes = 256 * 1024;
    c.psychiatric_service_types = {"PSY"};
    return c;
  }();
  // Every other input as the listener sees it with an admission already known.
  const bool with_memory = size % 2 == 1;
  Known known = [](const std::string&, const std::string& id) {
    return id.size() >= 9 && id.compare(id.size() - 9, 9, "/admitted") == 0;
  };
  Mapped m = map_any(bytes, config, with_memory ? known : Known{});
  std::vector<size_t> counts;
  for (const auto& r : m.encounters) {
    for (const auto& i : r.issues) check_no_echo(bytes, i.diagnostics);
    for (const auto& e : r.events) {
      if (e.event_id().empty() || e.episode_id().empty()) std::abort();
    }
    counts.push_back(new_events(r.events, {}).size());
  }
  for (const auto& i : m.issues) check_no_echo(bytes, i.diagnostics);
  // How the listener picks the sender's settings (meta.source): never throws.
  (void)meta_source(bytes);
  std::string text =
      m.kind == Mapped::Kind::kEncounter ? operation_outcome(m.issues) : bundle_response(m, counts);
  if (text.empty()) std::abort();
  return 0;
}
