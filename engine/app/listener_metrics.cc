#include "engine/app/listener_metrics.h"

#include <algorithm>
#include <utility>

namespace samordna::app {

ListenerMetrics::ListenerMetrics(metrics::Registry& registry, std::string listener)
    : registry_(registry),
      listener_(std::move(listener)),
      intake_duration_(registry.histogram(
          "samordna_intake_publish_duration_seconds",
          "From a message's submission to Kafka until the answer (durable, conflict, timed_out, "
          "failed): what a sender waits for its acknowledgement",
          metrics::latency_buckets(), {"listener", "outcome"})),
      intake_failures_(registry.counter(
          "samordna_intake_durable_failures_total",
          "Submissions Kafka did not confirm as durable in time (timed_out) or refused (failed): "
          "the sender got AE/CE 207 or 503 and should resend",
          {"listener", "reason"})) {
  // Created at start, so that a scrape shows the series at 0 (rate() needs them before the first
  // failure).
  for (const char* reason : {"timed_out", "failed"}) intake_failures_.labels({listener_, reason});
}

void ListenerMetrics::observe_intake(const char* outcome, std::chrono::duration<double> took) {
  intake_duration_.labels({listener_, outcome}).observe(took.count());
  const std::string_view o(outcome);
  if (o == "timed_out" || o == "failed") intake_failures_.labels({listener_, outcome}).inc();
}

void ListenerMetrics::add_counter(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names,
                                  std::vector<std::string> label_values,
                                  std::function<uint64_t()> read) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(name, &registry_.counter(name, help, std::move(label_names))).first;
  }
  synced_.push_back(Synced{&it->second->labels(label_values), std::move(read), 0});
}

void ListenerMetrics::add_gauge(const std::string& name, const std::string& help,
                                std::function<double()> read) {
  std::lock_guard lock(mutex_);
  gauges_.emplace_back(&registry_.gauge(name, help).labels({}), std::move(read));
}

void ListenerMetrics::refresh() {
  std::lock_guard lock(mutex_);
  for (auto& s : synced_) {
    const uint64_t now = s.read();
    if (now > s.last) s.counter->inc(now - s.last);
    s.last = std::max(s.last, now);
  }
  for (auto& [gauge, read] : gauges_) gauge->set(read());
}

void add_intake_counters(ListenerMetrics& m, const kafka::Intake& intake) {
  const kafka::Intake* in = &intake;
  const std::string tx = "samordna_intake_transactions_total";
  const std::string tx_help = "Kafka transactions of the intake, by result";
  m.add_counter(tx, tx_help, {"result"}, {"committed"}, [in] { return in->stats().transactions; });
  m.add_counter(tx, tx_help, {"result"}, {"aborted"}, [in] { return in->stats().aborted; });
  const std::string sub = "samordna_intake_submissions_total";
  const std::string sub_help = "Submissions to the intake (events + memory record), by outcome";
  m.add_counter(sub, sub_help, {"outcome"}, {"durable"}, [in] { return in->stats().durable; });
  m.add_counter(sub, sub_help, {"outcome"}, {"conflict"}, [in] { return in->stats().conflicts; });
  m.add_counter(sub, sub_help, {"outcome"}, {"timed_out"}, [in] { return in->stats().timed_out; });
  m.add_counter(sub, sub_help, {"outcome"}, {"failed"}, [in] { return in->stats().failed; });
}

}  // namespace samordna::app
