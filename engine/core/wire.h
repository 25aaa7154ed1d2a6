#pragma once

// Protobuf's binary encoding (protobuf.dev/programming-guides/encoding), read forward: for the hot
// paths that read a message's serialization once instead of making a reflection call per field
// (the JSON printer, the event's string checks and digest). Every read is bounded by the bytes;
// a false return means they end early or hold what the encoding does not allow.
// And written forward (Writer): for a projection serialized straight from the record it projects,
// with no message built in between (the episode view, engine/state/episode_view.h).

#include <cstddef>
#include <cstdint>
#include <string>
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

// Appends fields to `out` as the generated serializer writes them, so that the bytes are equal: the
// caller writes them in field-number order; a proto3 field without presence is not written when it
// holds 0, false or "" (the methods below skip it); a sub-message is written when it is set, even
// empty; varints are as short as they can be.
struct Writer {
  std::string& out;

  void int64(int field, int64_t v) {
    if (v != 0) tagged(field, kVarint, static_cast<uint64_t>(v));
  }
  // An enum is an int32: a negative one is sign-extended to ten bytes, as protobuf does.
  void enumeration(int field, int v) { int64(field, v); }
  void boolean(int field, bool v) {
    if (v) tagged(field, kVarint, 1);
  }
  void string(int field, std::string_view v) {
    if (v.empty()) return;
    tagged(field, kDelimited, v.size());
    out.append(v);
  }
  // A packed repeated enum (proto3's default for repeated scalars), not written when empty.
  template <class Range>
  void packed_enums(int field, const Range& values) {
    if (values.empty()) return;
    message(field, [&] {
      for (const int v : values) varint(static_cast<uint64_t>(static_cast<int64_t>(v)));
    });
  }
  // A sub-message whose fields `body` appends. Its length goes before it: room for one byte is
  // kept, and the body moved up if its length needs more (a body of 128 bytes or more).
  template <class Body>
  void message(int field, Body&& body) {
    varint(static_cast<uint64_t>(field) << 3 | kDelimited);
    const size_t at = out.size();
    out.push_back('\0');
    body();
    const size_t n = out.size() - at - 1;
    char length[10];
    const size_t width = encode(n, length);
    if (width > 1) out.insert(at + 1, width - 1, '\0');
    out.replace(at, width, length, width);
  }
  // google.protobuf.Timestamp of whole seconds (nanos 0, not written).
  void timestamp(int field, int64_t unix_seconds) {
    message(field, [&] { int64(1, unix_seconds); });
  }

  void varint(uint64_t v) {
    char bytes[10];
    out.append(bytes, encode(v, bytes));
  }

 private:
  void tagged(int field, Type type, uint64_t v) {
    varint(static_cast<uint64_t>(field) << 3 | type);
    varint(v);
  }
  static size_t encode(uint64_t v, char* to) {
    size_t n = 0;
    for (; v >= 0x80; v >>= 7) to[n++] = static_cast<char>(v | 0x80);
    to[n++] = static_cast<char>(v);
    return n;
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
