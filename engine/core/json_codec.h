#pragma once

// Protobuf's JSON mapping without its per-call cost. JsonStringToMessage and MessageToJsonString
// build a type resolver for every call, which dominated the simulator's profile; a JsonCodec holds
// one for its lifetime. Same mapping, same output, same error messages.
//
// Not thread-safe: one per thread.

#include <google/protobuf/message.h>
#include <google/protobuf/util/type_resolver.h>

#include <memory>
#include <string>
#include <string_view>

namespace samordna {

class JsonCodec {
 public:
  JsonCodec();
  ~JsonCodec();

  // Parses `json` into `out` (unknown fields are errors). On failure returns false and sets
  // `parser_message` to the parser's message (which may quote the input: see json_error.h).
  bool parse(std::string_view json, google::protobuf::Message& out, std::string& parser_message);
  // The compact JSON of `message` (default JsonPrintOptions), appended to `out`.
  void print(const google::protobuf::Message& message, std::string& out);

 private:
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver_;
  std::string binary_;
  std::string json_;
};

}  // namespace samordna
