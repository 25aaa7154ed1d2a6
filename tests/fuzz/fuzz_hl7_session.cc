// Fuzzes the listener's session logic (connectors/hl7/acknowledger.h) over a store that commits at
// once: every input, batch or single message, gets exactly one answer, synchronously; a single
// message's answer is an ACK our own parser reads, a batch's starts with its envelope; a second
// delivery of the same bytes is answered too (the resend path) and submits nothing new.

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "connectors/hl7/acknowledger.h"

namespace {

class Store : public samordna::hl7::DurableStore {
 public:
  std::map<std::string, std::string> memory;
  size_t submits = 0;
  void submit(std::vector<samordna::v1::Event>, Record rec, std::vector<Record> more,
              Clock::time_point, std::function<void(Answer)> done) override {
    if (auto it = memory.find(rec.key); it != memory.end()) {
      return done(Answer{Status::kKnown, it->second, true});
    }
    ++submits;
    memory[rec.key] = rec.value;
    for (auto& r : more) memory[r.key] = r.value;
    done(Answer{});
  }
  std::optional<std::pair<std::string, bool>> recall(const std::string& key) const override {
    auto it = memory.find(key);
    if (it == memory.end()) return std::nullopt;
    return std::make_pair(it->second, true);
  }
};

void check_answer(const std::string& ack) {
  if (ack.empty()) return;  // enhanced mode asked for none
  // A batch's answer is its envelope, with the batch's own field separator (any visible
  // non-alphanumeric byte: "BHS}" is a batch too).
  if (ack.rfind("FHS", 0) == 0 || ack.rfind("BHS", 0) == 0) {
    if (ack.size() < 4 || std::isalnum(static_cast<unsigned char>(ack[3]))) std::abort();
    return;
  }
  if (!samordna::hl7::parse(ack)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  Store store;
  samordna::hl7::Acknowledger ack(store, {});
  for (int round = 0; round < 2; ++round) {
    int answers = 0;
    std::string got;
    ack.handle(bytes, [&](std::string a) {
      ++answers;
      got = std::move(a);
    });
    if (answers != 1) std::abort();
    check_answer(got);
  }
  const size_t submits = store.submits;
  ack.handle(bytes, [](std::string) {});
  if (store.submits != submits) std::abort();  // a third delivery submits nothing new either
  return 0;
}
