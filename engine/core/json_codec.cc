#include "engine/core/json_codec.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver_util.h>

namespace samordna {
namespace {

constexpr const char* kUrlPrefix = "type.googleapis.com";

std::string type_url(const google::protobuf::Message& m) {
  return std::string(kUrlPrefix) + "/" + m.GetDescriptor()->full_name();
}

}  // namespace

JsonCodec::JsonCodec()
    : resolver_(google::protobuf::util::NewTypeResolverForDescriptorPool(
          kUrlPrefix, google::protobuf::DescriptorPool::generated_pool())) {}

JsonCodec::~JsonCodec() = default;

bool JsonCodec::parse(std::string_view json, google::protobuf::Message& out,
                      std::string& parser_message) {
  binary_.clear();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonToBinaryString(
      resolver_.get(), type_url(out), std::string(json), &binary_, options);
  if (!status.ok()) {
    parser_message = std::string(status.message());
    return false;
  }
  if (!out.ParseFromString(binary_)) {
    parser_message = "the JSON does not map to a valid message";
    return false;
  }
  return true;
}

void JsonCodec::print(const google::protobuf::Message& message, std::string& out) {
  binary_.clear();
  message.SerializeToString(&binary_);
  json_.clear();
  (void)google::protobuf::util::BinaryToJsonString(resolver_.get(), type_url(message), binary_,
                                                   &json_,
                                                   google::protobuf::util::JsonPrintOptions());
  out += json_;
}

}  // namespace samordna
