#include "engine/state/state_size.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>

#include <cstdint>
#include <set>
#include <string>

#include "engine/core/check.h"

namespace samordna::state {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

constexpr size_t kLengthPrefix = 5;  // a length under 2^35 (every message in memory)
constexpr size_t kVarint = 10;       // a negative int32, int64 or enum takes ten bytes

size_t tag(const FieldDescriptor& f) {
  return google::protobuf::io::CodedOutputStream::VarintSize32(static_cast<uint32_t>(f.number())
                                                               << 3);
}

size_t largest(const Descriptor& d, size_t longest, int depth);

// The largest content of one value of `f`, without its tag.
size_t value(const FieldDescriptor& f, size_t longest, int depth) {
  switch (f.type()) {
    case FieldDescriptor::TYPE_STRING:
    case FieldDescriptor::TYPE_BYTES:
      return kLengthPrefix + longest;
    case FieldDescriptor::TYPE_MESSAGE:
      return kLengthPrefix + largest(*f.message_type(), longest, depth + 1);
    case FieldDescriptor::TYPE_GROUP:
      SAMORDNA_CHECK(false, "a state holds no groups");
    case FieldDescriptor::TYPE_BOOL:
      return 1;
    case FieldDescriptor::TYPE_FIXED64:
    case FieldDescriptor::TYPE_SFIXED64:
    case FieldDescriptor::TYPE_DOUBLE:
      return 8;
    case FieldDescriptor::TYPE_FIXED32:
    case FieldDescriptor::TYPE_SFIXED32:
    case FieldDescriptor::TYPE_FLOAT:
      return 4;
    default:
      return kVarint;  // int32, int64, uint32, uint64, sint32, sint64, enum
  }
}

// A message of type `d` with every singular field set at its largest (oneof members all counted)
// and its repeated fields empty: they are counted by operator().
size_t largest(const Descriptor& d, size_t longest, int depth) {
  SAMORDNA_CHECK(depth < 16, "a state's message types do not nest themselves");
  size_t n = 0;
  for (int i = 0; i < d.field_count(); ++i) {
    const FieldDescriptor& f = *d.field(i);
    if (!f.is_repeated()) n += tag(f) + value(f, longest, depth);
  }
  return n;
}

// Stops on a repeated field (or map) reachable from `d` that the constructor did not count.
void check_counted(const Descriptor& d, const std::set<const FieldDescriptor*>& counted,
                   int depth) {
  SAMORDNA_CHECK(depth < 16, "a state's message types do not nest themselves");
  for (int i = 0; i < d.field_count(); ++i) {
    const FieldDescriptor& f = *d.field(i);
    SAMORDNA_CHECK(!f.is_repeated() || counted.count(&f) == 1,
                   ("engine/state/state_size.cc does not count the repeated field " +
                    f.full_name() + ": count it in SizeBound")
                       .c_str());
    if (f.message_type() != nullptr) check_counted(*f.message_type(), counted, depth + 1);
  }
}

}  // namespace

SizeBound::SizeBound(size_t longest) {
  // One element of the repeated field `name` of `d`, at its largest; unpacked, so that a packed
  // field's elements are over-counted by their tag (its one tag and length are in fixed_). The
  // fields asked for here are the ones operator() counts.
  std::set<const FieldDescriptor*> counted;
  auto element = [&](const Descriptor& d, const char* name) {
    const FieldDescriptor* f = d.FindFieldByName(name);
    SAMORDNA_CHECK(f != nullptr && f->is_repeated(),
                   "SizeBound counts a repeated field of the schema");
    counted.insert(f);
    return tag(*f) + value(*f, longest, 1);
  };
  const Descriptor& state = *storage::v1::EpisodeState::descriptor();
  const Descriptor& deadline = *storage::v1::DeadlineRecord::descriptor();
  const Descriptor& notice = *storage::v1::NoticeRecord::descriptor();
  const Descriptor& liability = *v1::PaymentLiability::descriptor();
  fixed_ = largest(state, longest, 0);
  for (const char* packed : {"needs", "seen_keys", "seen_digests"}) {
    fixed_ += tag(*state.FindFieldByName(packed)) + kLengthPrefix;
  }
  need_ = element(state, "needs");
  notified_ = element(state, "notified");
  ready_notified_ = element(state, "discharge_ready_notified");
  period_ = element(state, "periods");
  interval_ = element(state, "outpatient_unavailable");
  deadline_ = element(state, "deadlines");
  deadline_recipient_ = element(deadline, "recipients");
  timer_ = element(state, "timers");
  seen_ = element(state, "seen");
  notice_ = element(state, "notices");
  acknowledgement_ = element(notice, "acknowledgements");
  seen_key_ = element(state, "seen_keys");
  seen_digest_ = element(state, "seen_digests");
  liability_period_ = element(liability, "periods");
  check_counted(state, counted, 0);
}

size_t SizeBound::operator()(const storage::v1::EpisodeState& s) const {
  size_t deadline_recipients = 0;
  for (const auto& d : s.deadlines())
    deadline_recipients += static_cast<size_t>(d.recipients_size());
  size_t acknowledgements = 0;
  for (const auto& r : s.notices())
    acknowledgements += static_cast<size_t>(r.acknowledgements_size());
  auto n = [](int count) { return static_cast<size_t>(count); };
  return fixed_ + need_ * n(s.needs_size()) + notified_ * n(s.notified_size()) +
         ready_notified_ * n(s.discharge_ready_notified_size()) + period_ * n(s.periods_size()) +
         interval_ * n(s.outpatient_unavailable_size()) + deadline_ * n(s.deadlines_size()) +
         deadline_recipient_ * deadline_recipients + timer_ * n(s.timers_size()) +
         seen_ * n(s.seen_size()) + notice_ * n(s.notices_size()) +
         acknowledgement_ * acknowledgements + seen_key_ * n(s.seen_keys_size()) +
         seen_digest_ * n(s.seen_digests_size()) +
         liability_period_ * n(s.settled_liability().periods_size());
}

}  // namespace samordna::state
