#pragma once

// MLLP framing (HL7 v2 over TCP): <SB 0x0B> message <EB 0x1C><CR 0x0D> on raw bytes, as HAPI's
// MllpConstants and python-hl7's client define it (shared/data/hl7v2/MLLP_and_ACK_reference.md).
// A pure incremental decoder: feed it whatever each read returned, take out the frames. Tolerant
// of what real senders do: bytes before the start byte (discarded and counted: NULs, a trailing
// LF, noise), a frame split over many reads or several in one read, an end block without its CR.
// Bounded: a frame larger than the maximum is reported once and its bytes dropped up to its end.
//
// One per connection; not thread-safe (the connection's strand owns it).

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

#include "engine/core/result.h"

namespace samordna::hl7 {

inline constexpr char kStartBlock = 0x0B;
inline constexpr char kEndBlock = 0x1C;
inline constexpr char kCarriageReturn = 0x0D;

class MllpFramer {
 public:
  explicit MllpFramer(std::size_t max_frame_bytes = 1 << 20) : max_(max_frame_bytes) {}

  // Consumes `bytes`; every frame (or framing error) completed by them is queued, in order.
  void feed(std::string_view bytes);
  bool has_next() const { return !out_.empty(); }
  // The next message (without the framing bytes), or an error: a frame over the maximum, or a
  // frame cut short by a new start byte. Call only when has_next().
  Result<std::string> next();

  std::size_t discarded_bytes() const { return discarded_; }  // bytes outside any frame
  bool in_frame() const { return state_ != State::kOutside && state_ != State::kAfterEnd; }

  // Wraps a message in the framing bytes (for ACKs and tests).
  static std::string frame(std::string_view message);

 private:
  enum class State { kOutside, kInside, kOversized, kAfterEnd };
  std::size_t max_;
  State state_ = State::kOutside;
  std::string current_;
  std::deque<Result<std::string>> out_;
  std::size_t discarded_ = 0;
};

}  // namespace samordna::hl7
