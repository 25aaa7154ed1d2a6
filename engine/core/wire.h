#pragma once

// Protobuf's binary encoding, read forward (protobuf.dev/programming-guides/encoding): for the hot
// paths that read a message's serialization once instead of making a reflection call per field
// (the JSON printer, the event's string checks and digest). Every read is bounded by the bytes;
// a false return means they end early or hold what the encoding does not allow.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace samordna::wire {

enum Type : uint64_t {
  kVarint = 0,
  kFixed64 = 1,
  kDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

struct Reader {
  std::string_view bytes;
  size_t at = 0;

  bool done() const { return at >= bytes.size(); }

  bool varint(uint64_t& v) {
    v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (at >= bytes.size()) return false;
      const auto b = static_cast<unsigned char>(bytes[at++]);
      v |= static_cast<uint64_t>(b & 0x7Fu) << shift;
      if ((b & 0x80u) == 0) return true;
    }
    return false;
  }

  bool delimited(std::string_view& v) {
    uint64_t n = 0;
    if (!varint(n) || n > bytes.size() - at) return false;
    v = bytes.substr(at, static_cast<size_t>(n));
    at += static_cast<size_t>(n);
    return true;
  }

  // Past the value of a record whose tag was just read: a group to its end-group tag (unknown
  // fields keep groups a sender wrote, proto3 or not), at most `depth` groups deep.
  bool skip(uint64_t tag, int depth = 64) {
    uint64_t v = 0;
    std::string_view s;
    switch (tag & 7) {
      case kVarint:
        return varint(v);
      case kFixed64:
        return advance(8);
      case kDelimited:
        return delimited(s);
      case kFixed32:
        return advance(4);
      case kStartGroup:
        if (depth == 0) return false;
        while (varint(v)) {
          if ((v & 7) == kEndGroup) return (v >> 3) == (tag >> 3);
          if (!skip(v, depth - 1)) return false;
        }
        return false;
      default:  // an end-group with no start, or a wire type that does not exist
        return false;
    }
  }

 private:
  bool advance(size_t n) {
    if (n > bytes.size() - at) return false;
    at += n;
    return true;
  }
};

// What a reader of one message type's records needs of each field (`Field`, the reader's own),
// found by field number: a table for the numbers below 4096 (every number the contract uses), a
// search of the list above them.
template <class Field>
class FieldTable {
 public:
  void add(uint64_t number, Field field) {
    if (number < kIndexed) {
      if (number >= by_number_.size()) by_number_.resize(number + 1, -1);
      by_number_[number] = static_cast<int16_t>(fields_.size());
    }
    numbers_.push_back(number);
    fields_.push_back(std::move(field));
  }
  const Field* find(uint64_t number) const {
    if (number < by_number_.size()) {
      return by_number_[number] < 0 ? nullptr : &fields_[static_cast<size_t>(by_number_[number])];
    }
    if (number < kIndexed) return nullptr;
    for (size_t i = 0; i < numbers_.size(); ++i) {
      if (numbers_[i] == number) return &fields_[i];
    }
    return nullptr;
  }
  std::vector<Field>& fields() { return fields_; }

 private:
  static constexpr uint64_t kIndexed = 4096;
  std::vector<Field> fields_;
  std::vector<uint64_t> numbers_;   // of fields_, in the same order
  std::vector<int16_t> by_number_;  // number -> index into fields_, -1 none
};

}  // namespace samordna::wire
