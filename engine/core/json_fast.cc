#include "engine/core/json_fast.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>
#include <google/protobuf/timestamp.pb.h>
#include <simdjson.h>

#include <algorithm>
#include <bitset>
#include <charconv>
#include <chrono>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/core/time.h"
#include "engine/core/wire.h"

namespace samordna::json_fast {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr size_t kMaxFields = 128;  // a message with more field slots is not handled

bool is_timestamp(const Descriptor* d) { return d == google::protobuf::Timestamp::descriptor(); }
// Well-known types other than Timestamp have JSON forms of their own: not handled.
bool is_other_well_known(const Descriptor* d) { return d->file()->package() == "google.protobuf"; }

// ---- reading -------------------------------------------------------------------------------

int digits(std::string_view s, size_t at, size_t n) {  // -1 unless s[at, at+n) are digits
  if (at + n > s.size()) return -1;
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z", years 0001 to 9999, a real date: what protobuf's parser reads
// to the same instant. Anything else (offsets, lower-case letters, leap seconds) is not handled.
bool parse_timestamp(std::string_view s, int64_t& seconds, int32_t& nanos) {
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') {
    return false;
  }
  const int y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
  const int h = digits(s, 11, 2), mi = digits(s, 14, 2), se = digits(s, 17, 2);
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 ||
      se > 59) {
    return false;
  }
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{unsigned(mo)},
                                        std::chrono::day{unsigned(d)}};
  if (!ymd.ok()) return false;
  size_t i = 19;
  nanos = 0;
  if (s[i] == '.') {
    ++i;
    size_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (++n > 9) return false;
      nanos = nanos * 10 + (s[i] - '0');
      ++i;
    }
    if (n == 0) return false;
    for (; n < 9; ++n) nanos *= 10;
  }
  if (i + 1 != s.size() || s[i] != 'Z') return false;
  seconds = int64_t{std::chrono::sys_days(ymd).time_since_epoch().count()} * 86400 + h * 3600 +
            mi * 60 + se;
  return true;
}

// A message type's fields by the names JSON may use for them (the JSON name and the proto name).
struct FieldTable {
  std::vector<std::pair<std::string, const FieldDescriptor*>> by_name;  // sorted by name
  const FieldDescriptor* find(std::string_view key) const {
    auto it = std::lower_bound(by_name.begin(), by_name.end(), key,
                               [](const auto& e, std::string_view k) { return e.first < k; });
    return it != by_name.end() && it->first == key ? it->second : nullptr;
  }
};

}  // namespace

struct Reader::Impl {
  simdjson::dom::parser parser;
  std::unordered_map<const Descriptor*, FieldTable> tables;

  const FieldTable& table(const Descriptor* d) {
    auto [it, inserted] = tables.try_emplace(d);
    if (inserted) {
      for (int i = 0; i < d->field_count(); ++i) {
        const FieldDescriptor* f = d->field(i);
        it->second.by_name.emplace_back(f->json_name(), f);
        if (f->name() != f->json_name()) it->second.by_name.emplace_back(f->name(), f);
      }
      std::sort(it->second.by_name.begin(), it->second.by_name.end());
    }
    return it->second;
  }

  bool timestamp(simdjson::dom::element v, Message& m) {
    std::string_view s;
    if (v.get_string().get(s) != simdjson::SUCCESS) return false;
    int64_t seconds = 0;
    int32_t nanos = 0;
    if (!parse_timestamp(s, seconds, nanos)) return false;
    const Descriptor* d = m.GetDescriptor();
    const Reflection* r = m.GetReflection();
    r->SetInt64(&m, d->field(0), seconds);  // google.protobuf.Timestamp: seconds, nanos
    r->SetInt32(&m, d->field(1), nanos);
    return true;
  }

  bool enum_value(simdjson::dom::element v, const FieldDescriptor* f, int& number) {
    std::string_view name;
    if (v.get_string().get(name) != simdjson::SUCCESS) return false;
    const auto* value = f->enum_type()->FindValueByName(std::string(name));
    if (value == nullptr) return false;
    number = value->number();
    return true;
  }

  bool field(simdjson::dom::element v, const FieldDescriptor* f, Message& m) {
    const Reflection* r = m.GetReflection();
    if (f->is_map()) return false;
    if (f->is_repeated()) {
      simdjson::dom::array a;
      if (v.get_array().get(a) != simdjson::SUCCESS) return false;
      for (simdjson::dom::element e : a) {
        switch (f->type()) {
          case FieldDescriptor::TYPE_ENUM: {
            int number = 0;
            if (!enum_value(e, f, number)) return false;
            r->AddEnumValue(&m, f, number);
            break;
          }
          case FieldDescriptor::TYPE_STRING: {
            std::string_view s;
            if (e.get_string().get(s) != simdjson::SUCCESS) return false;
            r->AddString(&m, f, std::string(s));
            break;
          }
          case FieldDescriptor::TYPE_MESSAGE: {
            if (!message(e, *r->AddMessage(&m, f))) return false;
            break;
          }
          default:
            return false;
        }
      }
      return true;
    }
    switch (f->type()) {
      case FieldDescriptor::TYPE_STRING: {
        std::string_view s;
        if (v.get_string().get(s) != simdjson::SUCCESS) return false;
        r->SetString(&m, f, std::string(s));
        return true;
      }
      case FieldDescriptor::TYPE_BOOL: {
        bool b = false;
        if (v.get_bool().get(b) != simdjson::SUCCESS) return false;
        r->SetBool(&m, f, b);
        return true;
      }
      case FieldDescriptor::TYPE_ENUM: {
        int number = 0;
        if (!enum_value(v, f, number)) return false;
        r->SetEnumValue(&m, f, number);
        return true;
      }
      case FieldDescriptor::TYPE_MESSAGE:
        return message(v, *r->MutableMessage(&m, f));
      default:
        return false;  // numbers: protobuf takes strings, exponents, ... for them
    }
  }

  bool message(simdjson::dom::element v, Message& m) {
    const Descriptor* d = m.GetDescriptor();
    if (is_timestamp(d)) return timestamp(v, m);
    if (is_other_well_known(d)) return false;
    simdjson::dom::object o;
    if (v.get_object().get(o) != simdjson::SUCCESS) return false;
    if (static_cast<size_t>(d->field_count()) > kMaxFields) return false;
    const FieldTable& t = table(d);
    const Reflection* r = m.GetReflection();
    std::bitset<kMaxFields> seen;
    for (auto member : o) {
      const FieldDescriptor* f = t.find(member.key);
      if (f == nullptr) return false;  // unknown: the converter says which
      if (seen.test(static_cast<size_t>(f->index()))) return false;  // twice
      seen.set(static_cast<size_t>(f->index()));
      if (member.value.is_null()) return false;  // null means "default" to protobuf
      if (const auto* oneof = f->real_containing_oneof();
          oneof != nullptr && r->HasOneof(m, oneof)) {
        return false;  // a second member of a oneof: the converter's error
      }
      if (!field(member.value, f, m)) return false;
    }
    return true;
  }
};

Reader::Reader() : impl_(std::make_unique<Impl>()) {}
Reader::~Reader() = default;

bool Reader::parse(std::string_view json, Message& out) {
  // Control bytes and escapes are rare on the wire and have corner cases (raw control characters
  // in strings, escaped keys, lone surrogates): the converter takes those lines.
  for (const char c : json) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '\\') return false;
  }
  simdjson::dom::element doc;
  if (impl_->parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) return false;
  out.Clear();
  return impl_->message(doc, out);
}

// ---- writing -------------------------------------------------------------------------------

namespace {

// protobuf's JSON escaping (util/internal/json_escaping.cc), checked code point by code point
// against MessageToJsonString for every ASCII character and every two-byte UTF-8 sequence.
bool plain(unsigned char c) {  // printed as it is
  return c >= 0x20 && c < 0x7F && c != '"' && c != '\\' && c != '<' && c != '>';
}

bool escape(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    // A run of plain characters in one append: most strings are nothing else.
    size_t end = i;
    while (end < s.size() && plain(static_cast<unsigned char>(s[end]))) ++end;
    if (end > i) {
      out.append(s.data() + i, end - i);
      i = end;
      if (i == s.size()) break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      // Two-byte sequences (U+0080..U+07FF) print raw, except those protobuf escapes: the C1
      // controls U+0080..U+009F, the soft hyphen U+00AD and the format characters U+0600..U+0603,
      // U+06DD and U+070F.
      if (c < 0xC2 || c > 0xDF || i + 1 >= s.size()) return false;
      const auto c2 = static_cast<unsigned char>(s[i + 1]);
      if ((c2 & 0xC0) != 0x80) return false;
      const unsigned cp = ((c & 0x1Fu) << 6) | (c2 & 0x3Fu);
      if (cp <= 0x9F || cp == 0xAD || (cp >= 0x600 && cp <= 0x603) || cp == 0x6DD || cp == 0x70F) {
        return false;
      }
      out += s[i];
      out += s[i + 1];
      ++i;
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == '<' || c == '>' || c == 0x7F) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return true;
}

template <class T>
void number(T v, std::string& out) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// A Timestamp's fields: the RFC 3339 text protobuf prints, or false where protobuf refuses.
bool timestamp(int64_t seconds, int32_t nanos_in, std::string& out) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(seconds);
  ts.set_nanos(nanos_in);
  if (!valid_timestamp(ts)) return false;  // protobuf refuses to print it
  const int64_t days = ts.seconds() >= 0 ? ts.seconds() / 86400 : (ts.seconds() - 86399) / 86400;
  const int64_t rem = ts.seconds() - days * 86400;
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days}}};
  // "YYYY-MM-DDTHH:MM:SS", digit by digit (snprintf was a tenth of the printer's time).
  char buf[32] = "\"0000-00-00T00:00:00";
  auto put = [&buf](int at, int width, unsigned v) {
    for (int i = at + width - 1; i >= at; --i, v /= 10) buf[i] = static_cast<char>('0' + v % 10);
  };
  put(1, 4, static_cast<unsigned>(int(ymd.year())));
  put(6, 2, unsigned(ymd.month()));
  put(9, 2, unsigned(ymd.day()));
  put(12, 2, static_cast<unsigned>(rem / 3600));
  put(15, 2, static_cast<unsigned>(rem / 60 % 60));
  put(18, 2, static_cast<unsigned>(rem % 60));
  out.append(buf, 20);
  // As protobuf: 0, 3, 6 or 9 fractional digits.
  const int32_t nanos = ts.nanos();
  if (nanos != 0) {
    int width = 9;
    auto frac = static_cast<unsigned>(nanos);
    if (nanos % 1000000 == 0) {
      width = 3;
      frac /= 1000000;
    } else if (nanos % 1000 == 0) {
      width = 6;
      frac /= 1000;
    }
    buf[0] = '.';
    put(1, width, frac);
    out.append(buf, static_cast<size_t>(width) + 1);
  }
  out += "Z\"";
  return true;
}

// The printer reads the message's binary encoding, not the message: the generated serializer
// writes the set fields in field-number order (the order protobuf's converter prints, since it
// walks that same binary), and a read of a varint or a length costs less than a reflection call
// per field (the reflection printer before was a quarter of `simulate`'s CPU). What it needs of
// each message type is worked out once, in a Plan.

// What the printer needs of one field.
struct FieldPlan {
  const FieldDescriptor* field = nullptr;
  std::string key;                   // "jsonName":
  const struct Plan* sub = nullptr;  // a message field's own plan (not a Timestamp's)
  bool printable = false;            // a kind this printer handles
};

struct Plan : wire::FieldTable<FieldPlan> {};

constexpr int kMaxFieldNumber = 4096;  // a message with larger field numbers is not handled

// The plan of a message type, built on first use and kept for the thread's life.
const Plan* plan_of(const Descriptor* d) {
  thread_local std::unordered_map<const Descriptor*, std::unique_ptr<Plan>> plans;
  auto [it, inserted] = plans.try_emplace(d);
  if (!inserted) return it->second.get();
  it->second = std::make_unique<Plan>();
  Plan* plan = it->second.get();  // in the map before its fields: a recursive type finds it
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->number() >= kMaxFieldNumber) {
      *plan = Plan();  // nothing is found: the message is not handled
      return plan;
    }
    FieldPlan fp;
    fp.field = f;
    fp.key = '"' + f->json_name() + "\":";
    switch (f->type()) {
      case FieldDescriptor::TYPE_STRING:
      case FieldDescriptor::TYPE_BOOL:
      case FieldDescriptor::TYPE_ENUM:
      case FieldDescriptor::TYPE_INT32:
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_INT64:
      case FieldDescriptor::TYPE_UINT64:
        fp.printable = !f->is_map();
        break;
      case FieldDescriptor::TYPE_MESSAGE:
        fp.printable = !f->is_map() &&
                       (is_timestamp(f->message_type()) || !is_other_well_known(f->message_type()));
        break;
      default:  // doubles, floats, bytes, zigzag and fixed-width integers, groups
        break;
    }
    plan->add(static_cast<uint64_t>(f->number()), std::move(fp));
  }
  for (auto& fp : plan->fields()) {
    if (fp.printable && fp.field->type() == FieldDescriptor::TYPE_MESSAGE &&
        !is_timestamp(fp.field->message_type())) {
      fp.sub = plan_of(fp.field->message_type());
    }
  }
  return plan;
}

using Wire = wire::Reader;
using wire::kDelimited;
using wire::kVarint;

bool message(const Plan& plan, std::string_view bytes, std::string& out);

bool timestamp(std::string_view bytes, std::string& out) {
  Wire w{bytes};
  int64_t seconds = 0;
  int32_t nanos = 0;
  while (!w.done()) {
    uint64_t tag = 0, v = 0;
    if (!w.varint(tag) || (tag & 7) != kVarint || !w.varint(v)) return false;
    if ((tag >> 3) == 1) {
      seconds = static_cast<int64_t>(v);
    } else if ((tag >> 3) == 2) {
      nanos = static_cast<int32_t>(v);
    } else {
      return false;  // an unknown field
    }
  }
  return timestamp(seconds, nanos, out);
}

// One varint value of a scalar field.
bool scalar(const FieldDescriptor* f, uint64_t v, std::string& out) {
  switch (f->type()) {
    case FieldDescriptor::TYPE_BOOL:
      out += v != 0 ? "true" : "false";
      return true;
    case FieldDescriptor::TYPE_ENUM: {
      const auto* ev = f->enum_type()->FindValueByNumber(static_cast<int32_t>(v));
      if (ev == nullptr) return false;
      out += '"';
      out += ev->name();
      out += '"';
      return true;
    }
    case FieldDescriptor::TYPE_INT32:
      number(static_cast<int32_t>(v), out);
      return true;
    case FieldDescriptor::TYPE_UINT32:
      number(static_cast<uint32_t>(v), out);
      return true;
    case FieldDescriptor::TYPE_INT64:  // 64-bit integers are JSON strings
      out += '"';
      number(static_cast<int64_t>(v), out);
      out += '"';
      return true;
    case FieldDescriptor::TYPE_UINT64:
      out += '"';
      number(v, out);
      out += '"';
      return true;
    default:
      return false;
  }
}

// One record of field `fp` (of wire type `type`): its value, or for a packed repeated scalar all
// of its values, each after a comma unless `first`.
bool record(const FieldPlan& fp, uint64_t type, Wire& w, bool& first, std::string& out) {
  const FieldDescriptor* f = fp.field;
  auto separate = [&] {
    if (!first) out += ',';
    first = false;
  };
  if (type == kVarint) {
    uint64_t v = 0;
    if (!w.varint(v)) return false;
    separate();
    return scalar(f, v, out);
  }
  if (type != kDelimited) return false;
  std::string_view v;
  if (!w.delimited(v)) return false;
  switch (f->type()) {
    case FieldDescriptor::TYPE_STRING:
      separate();
      return escape(v, out);
    case FieldDescriptor::TYPE_MESSAGE:
      separate();
      return fp.sub != nullptr ? message(*fp.sub, v, out) : timestamp(v, out);
    default: {  // a packed repeated scalar
      if (!f->is_repeated()) return false;
      Wire packed{v};
      while (!packed.done()) {
        uint64_t x = 0;
        if (!packed.varint(x)) return false;
        separate();
        if (!scalar(f, x, out)) return false;
      }
      return true;
    }
  }
}

bool message(const Plan& plan, std::string_view bytes, std::string& out) {
  Wire w{bytes};
  out += '{';
  const FieldPlan* current = nullptr;  // the field of the record before
  bool first_value = true;             // in current's array, when it is repeated
  while (!w.done()) {
    uint64_t tag = 0;
    if (!w.varint(tag)) return false;
    const FieldPlan* fp = plan.find(tag >> 3);
    if (fp == nullptr || !fp->printable) return false;  // unknown fields, or a kind not handled
    const bool repeated = fp->field->is_repeated();
    if (fp != current) {
      // The serializer writes each field whole, in number order (a repeated one as one run of
      // records): anything else is not a message this printer reads.
      if (current != nullptr && current->field->number() >= fp->field->number()) return false;
      if (current != nullptr) out += current->field->is_repeated() ? "]," : ",";
      out += fp->key;
      if (repeated) out += '[';
      current = fp;
      first_value = true;
    } else if (!repeated) {
      return false;  // a singular field twice
    }
    if (!record(*fp, tag & 7, w, first_value, out)) return false;
  }
  if (current != nullptr && current->field->is_repeated()) out += ']';
  out += '}';
  return true;
}

}  // namespace

bool print(const Message& m, std::string& out) {
  const size_t size = out.size();
  const Descriptor* d = m.GetDescriptor();
  if (is_timestamp(d) || is_other_well_known(d)) return false;
  thread_local std::string wire;
  wire.clear();
  bool done = m.AppendPartialToString(&wire) && message(*plan_of(d), wire, out);
  if (!done) out.resize(size);
  return done;
}

}  // namespace samordna::json_fast
