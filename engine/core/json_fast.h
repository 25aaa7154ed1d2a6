#pragma once

// The fast path of JsonCodec (json_codec.h): protobuf's JSON mapping for the subset of messages
// and inputs the engine's hot paths meet, without protobuf's converter (which builds a JSON token
// stream, a binary message and then parses that: most of `simulate`'s CPU). Both directions
// answer "not handled" for anything outside that subset, and JsonCodec then asks protobuf's
// converter, so every error message and every unusual input keep the converter's behaviour.
//
// Reading takes a line only when it is plain: no control bytes, no backslash escapes, every key a
// field's JSON or proto name, each field once, at most one member of a oneof, values of exactly
// the field's kind (string, bool, enum by its exact name, object, array, a Timestamp as
// "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" with a valid date). Writing serializes the message and prints
// its binary encoding (fields in number order, as the converter walks them), with a plan of each
// message type's fields made once per thread: no reflection call per field. It takes messages of
// strings, bools, enums with a known value, 32- and 64-bit integers (varint-encoded), Timestamps
// in range and nested messages; a string is escaped exactly as protobuf escapes it for printable
// ASCII and the two-byte UTF-8 letters (å, ä, ö, é, ...); anything else (three- and four-byte
// UTF-8, invalid UTF-8, doubles, bytes, maps, other well-known types) is not handled.
// tests/unit/core/json_fast_test.cc and the fuzz target fuzz_event_json compare both paths.
//
// Not thread-safe: one Reader per thread.

#include <google/protobuf/message.h>

#include <memory>
#include <string>
#include <string_view>

namespace samordna::json_fast {

class Reader {
 public:
  Reader();
  ~Reader();
  // true: `out` (cleared first) holds exactly what protobuf's JsonStringToMessage would give.
  // false: not handled; `out` is in an unspecified state.
  bool parse(std::string_view json, google::protobuf::Message& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// true: appended to `out` exactly what MessageToJsonString (default options) writes. false: not
// handled; `out` is as it was.
bool print(const google::protobuf::Message& message, std::string& out);

}  // namespace samordna::json_fast
