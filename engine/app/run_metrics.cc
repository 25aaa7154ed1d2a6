#include "engine/app/run_metrics.h"

#include <algorithm>
#include <cctype>

namespace samordna::app {
namespace {

// "ADMISSION_NOTICE" -> "admission_notice".
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The JSON name of a oneof member ("needsAssessed"), as the contract's JSON spells the kind.
std::string member_name(const google::protobuf::Descriptor* d, size_t number) {
  const auto* field = d->FindFieldByNumber(static_cast<int>(number));
  return field != nullptr ? field->json_name() : "other";
}

std::string enum_name(const google::protobuf::EnumDescriptor* d, size_t number) {
  const auto* value = d->FindValueByNumber(static_cast<int>(number));
  return value != nullptr ? lower(value->name()) : "other";
}

const char* outcome_name(size_t outcome) {
  switch (outcome) {
    case 0:
      return "applied";
    case 1:
      return "duplicate";
    default:
      return "rejected";
  }
}

size_t outcome_index(pipeline::Outcome::Kind k) {
  switch (k) {
    case pipeline::Outcome::Kind::kApplied:
      return 0;
    case pipeline::Outcome::Kind::kDuplicate:
      return 1;
    case pipeline::Outcome::Kind::kRejected:
      break;
  }
  return 2;
}

// A number out of range lands in slot 0, which renders as the enum's "unspecified" or "other".
template <typename T>
size_t slot(T number, size_t bound) {
  const auto n = static_cast<size_t>(number);
  return n < bound ? n : 0;
}

}  // namespace

std::vector<double> RunMetrics::delay_buckets() {
  return {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400, 604800};
}

RunMetrics::RunMetrics(metrics::Registry& r)
    : events_(r.counter("samordna_events_total",
                        "Events consumed and committed, by kind (the JSON name of the event's "
                        "payload) and outcome (applied, duplicate, rejected).",
                        {"kind", "outcome"})),
      dead_letters_(r.counter("samordna_dead_letters_total",
                              "Input records sent to the dead-letter topic, by code "
                              "(malformed, unknown_episode, ...).",
                              {"code"})),
      notifications_(r.counter("samordna_notifications_total",
                               "Notifications committed to the notifications topic, by kind.",
                               {"kind"})),
      deadlines_missed_(r.counter("samordna_deadlines_missed_total",
                                  "deadlineMissed notifications committed, by deadline kind.",
                                  {"deadline"})),
      notices_held_(r.counter("samordna_notices_held_total",
                              "noticeHeld notifications committed (a notice held back for want of "
                              "consent or content), by notice and reason.",
                              {"notice", "reason"})),
      transactions_(r.counter("samordna_transactions_total",
                              "Kafka transactions (units of work) ended, by outcome (committed, "
                              "aborted).",
                              {"outcome"})),
      committed_(transactions_.labels({"committed"})),
      aborted_(transactions_.labels({"aborted"})),
      fire_delay_(r.histogram("samordna_timer_fire_delay_seconds",
                              "How late timers fire after their fire time: by the wall clock "
                              "with --clock wall, by the partition's event-time clock with "
                              "--clock event-time.",
                              delay_buckets())
                      .labels({})),
      lag_(r.gauge("samordna_consumer_lag_records",
                   "Records of the events topic not yet committed, per assigned partition.",
                   {"partition"})),
      timers_pending_(r.gauge("samordna_timers_pending",
                              "Timers pending: exact with write-behind (the default), else "
                              "RocksDB's estimate (exact after a compaction).")
                          .labels({})) {}

void RunMetrics::event(const v1::Event& e, pipeline::Outcome::Kind outcome) {
  events_by_kind_.add(slot(e.payload_case(), kSlots) * 3 + outcome_index(outcome));
  dirty_ = true;
}

void RunMetrics::dead_letter(std::string_view code) {
  auto it = dead_letters_pending_.find(code);
  if (it == dead_letters_pending_.end()) it = dead_letters_pending_.emplace(code, 0).first;
  ++it->second;
  dirty_ = true;
}

void RunMetrics::notification(const v1::Notification& n) {
  notifications_by_kind_.add(slot(n.kind_case(), kSlots));
  if (n.has_deadline_missed())
    missed_by_deadline_.add(slot(n.deadline_missed().deadline(), kSlots));
  if (n.has_notice_held()) {
    held_by_notice_.add(slot(n.notice_held().notice(), kHeldSlots) * kHeldSlots +
                        slot(n.notice_held().reason(), kHeldSlots));
  }
  dirty_ = true;
}

void RunMetrics::timer_fired(std::chrono::duration<double> late) {
  delays_pending_.push_back(std::max(0.0, late.count()));
  dirty_ = true;
}

void RunMetrics::transaction(bool committed) {
  if (committed) {
    committed_.inc();
    flush();
  } else {
    aborted_.inc();
    drop();
  }
}

void RunMetrics::lag(pipeline::PartitionId partition, std::optional<int64_t> records) {
  const std::vector<std::string> labels{std::to_string(partition)};
  if (!records) {
    lag_.remove(labels);
    return;
  }
  lag_.labels(labels).set(static_cast<double>(*records));
}

void RunMetrics::timers_pending(uint64_t estimate) {
  timers_pending_.set(static_cast<double>(estimate));
}

void RunMetrics::flush() {
  if (!dirty_) return;
  for (const size_t i : events_by_kind_.touched) {
    auto*& c = events_by_kind_.series[i];
    if (c == nullptr) {
      c = &events_.labels({member_name(v1::Event::descriptor(), i / 3), outcome_name(i % 3)});
    }
    c->inc(events_by_kind_.pending[i]);
  }
  for (const size_t i : notifications_by_kind_.touched) {
    auto*& c = notifications_by_kind_.series[i];
    if (c == nullptr) c = &notifications_.labels({member_name(v1::Notification::descriptor(), i)});
    c->inc(notifications_by_kind_.pending[i]);
  }
  for (const size_t i : missed_by_deadline_.touched) {
    auto*& c = missed_by_deadline_.series[i];
    if (c == nullptr) c = &deadlines_missed_.labels({enum_name(v1::DeadlineKind_descriptor(), i)});
    c->inc(missed_by_deadline_.pending[i]);
  }
  for (const size_t i : held_by_notice_.touched) {
    auto*& c = held_by_notice_.series[i];
    if (c == nullptr) {
      c = &notices_held_.labels({enum_name(v1::NoticeHeld::Notice_descriptor(), i / kHeldSlots),
                                 enum_name(v1::NoticeHeld::Reason_descriptor(), i % kHeldSlots)});
    }
    c->inc(held_by_notice_.pending[i]);
  }
  for (const auto& [code, n] : dead_letters_pending_) dead_letters_.labels({code}).inc(n);
  for (const double d : delays_pending_) fire_delay_.observe(d);
  drop();
}

void RunMetrics::drop() {
  auto clear = [](auto& slots) {
    for (const size_t i : slots.touched) slots.pending[i] = 0;
    slots.touched.clear();
  };
  clear(events_by_kind_);
  clear(notifications_by_kind_);
  clear(missed_by_deadline_);
  clear(held_by_notice_);
  dead_letters_pending_.clear();
  delays_pending_.clear();
  dirty_ = false;
}

}  // namespace samordna::app
