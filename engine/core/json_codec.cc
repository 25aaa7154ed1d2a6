#include "engine/core/json_codec.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver_util.h>

#include <vector>

#include "engine/core/json_fast.h"
#include "engine/core/time.h"

namespace samordna {
namespace {

constexpr const char* kUrlPrefix = "type.googleapis.com";

std::string type_url(const google::protobuf::Message& m) {
  return std::string(kUrlPrefix) + "/" + m.GetDescriptor()->full_name();
}

// The proto path ("needs_assessed.estimated_discharge_at") of the first Timestamp out of range in
// `m`, or "" when every one is in range. Walks only the fields that are set.
std::string timestamp_out_of_range(const google::protobuf::Message& m, const std::string& prefix) {
  using google::protobuf::FieldDescriptor;
  const auto* reflection = m.GetReflection();
  if (m.GetDescriptor() == google::protobuf::Timestamp::descriptor()) {
    const auto* d = m.GetDescriptor();
    google::protobuf::Timestamp ts;
    ts.set_seconds(reflection->GetInt64(m, d->FindFieldByNumber(1)));
    ts.set_nanos(reflection->GetInt32(m, d->FindFieldByNumber(2)));
    return valid_timestamp(ts) ? std::string() : prefix;
  }
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const std::string path = prefix.empty() ? f->name() : prefix + "." + f->name();
    if (f->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(m, f); ++i) {
        std::string bad = timestamp_out_of_range(reflection->GetRepeatedMessage(m, f, i),
                                                 path + "[" + std::to_string(i) + "]");
        if (!bad.empty()) return bad;
      }
    } else {
      std::string bad = timestamp_out_of_range(reflection->GetMessage(m, f), path);
      if (!bad.empty()) return bad;
    }
  }
  return std::string();
}

}  // namespace

JsonCodec::JsonCodec(Path path)
    : resolver_(google::protobuf::util::NewTypeResolverForDescriptorPool(
          kUrlPrefix, google::protobuf::DescriptorPool::generated_pool())),
      fast_(path == Path::kFast ? std::make_unique<json_fast::Reader>() : nullptr) {}

JsonCodec::~JsonCodec() = default;

bool JsonCodec::parse(std::string_view json, google::protobuf::Message& out,
                      std::string& parser_message) {
  // The fast path reads only what it can read exactly as the converter would (its timestamps are
  // always in range); for anything else the converter decides, and words the error.
  if (fast_ && fast_->parse(json, out)) return true;
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
  if (std::string bad = timestamp_out_of_range(out, ""); !bad.empty()) {
    parser_message = "(" + bad + "): timestamp out of range";
    return false;
  }
  return true;
}

bool JsonCodec::print(const google::protobuf::Message& message, std::string& out) {
  if (fast_ && json_fast::print(message, out)) return true;
  binary_.clear();
  message.SerializeToString(&binary_);
  json_.clear();
  const auto status = google::protobuf::util::BinaryToJsonString(
      resolver_.get(), type_url(message), binary_, &json_,
      google::protobuf::util::JsonPrintOptions());
  if (!status.ok()) return false;
  out += json_;
  return true;
}

}  // namespace samordna
