#include "connectors/hl7/mllp_framer.h"

namespace samordna::hl7 {

void MllpFramer::feed(std::string_view bytes) {
  for (char c : bytes) {
    switch (state_) {
      case State::kAfterEnd:
        state_ = State::kOutside;
        if (c == kCarriageReturn) break;  // the end block's CR
        [[fallthrough]];                  // a sender that omits it: the byte is outside
      case State::kOutside:
        if (c == kStartBlock) {
          state_ = State::kInside;
          current_.clear();
        } else {
          ++discarded_;
        }
        break;
      case State::kInside:
        if (c == kEndBlock) {
          out_.emplace_back(std::move(current_));
          current_.clear();
          state_ = State::kAfterEnd;
        } else if (c == kStartBlock) {
          // The sender gave up on a frame and started again: report the lost one, keep the new.
          out_.emplace_back(fail(Errc::kInvalidArgument,
                                 "MLLP frame cut short by a new start block (" +
                                     std::to_string(current_.size()) + " bytes dropped)"));
          current_.clear();
        } else if (current_.size() >= max_) {
          out_.emplace_back(fail(Errc::kInvalidArgument,
                                 "MLLP frame larger than " + std::to_string(max_) + " bytes"));
          current_.clear();
          current_.shrink_to_fit();
          state_ = State::kOversized;
        } else {
          current_.push_back(c);
        }
        break;
      case State::kOversized:
        if (c == kEndBlock) state_ = State::kAfterEnd;
        break;
    }
  }
}

Result<std::string> MllpFramer::next() {
  Result<std::string> r = std::move(out_.front());
  out_.pop_front();
  return r;
}

std::string MllpFramer::frame(std::string_view message) {
  std::string out;
  out.reserve(message.size() + 3);
  out.push_back(kStartBlock);
  out.append(message);
  out.push_back(kEndBlock);
  out.push_back(kCarriageReturn);
  return out;
}

}  // namespace samordna::hl7
