#pragma once

// Protobuf's JSON mapping without its per-call cost. JsonStringToMessage and MessageToJsonString
// build a type resolver for every call, which dominated the simulator's profile; a JsonCodec holds
// one for its lifetime. Same mapping, same output, same error messages.
//
// Plain lines and the engine's messages take a fast path (json_fast.h: simdjson in, a reflection
// writer out) that gives the same message and the same bytes; whatever it does not handle, and
// every error, goes through protobuf's converter as before.
//
// Not thread-safe: one per thread.

#include <google/protobuf/message.h>
#include <google/protobuf/util/type_resolver.h>

#include <memory>
#include <string>
#include <string_view>

namespace samordna {

namespace json_fast {
class Reader;
}

class JsonCodec {
 public:
  // kConverterOnly: protobuf's converter for everything (the tests compare both paths with it).
  enum class Path { kFast, kConverterOnly };
  explicit JsonCodec(Path path = Path::kFast);
  ~JsonCodec();

  // Parses `json` into `out` (unknown fields are errors). On failure returns false and sets
  // `parser_message` to the parser's message (which may quote the input: see json_error.h).
  // A google.protobuf.Timestamp anywhere in the message must lie in the years 0001 to 9999 after
  // its offset (protobuf's parser takes 9999-12-31T23:59:59-23:59, which it cannot print again);
  // one outside is reported as "(<field path>): timestamp out of range".
  bool parse(std::string_view json, google::protobuf::Message& out, std::string& parser_message);
  // The compact JSON of `message` (default JsonPrintOptions), appended to `out`. When protobuf
  // cannot print it (a Timestamp out of range from binary input), returns false and leaves `out`
  // as it was: never half a line.
  bool print(const google::protobuf::Message& message, std::string& out);

 private:
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver_;
  std::unique_ptr<json_fast::Reader> fast_;  // null: converter only
  std::string binary_;
  std::string json_;
};

}  // namespace samordna
