#pragma once

// Metrics of the intake listeners, `samordna hl7 listen` and `samordna fhir listen`
// (--metrics-port): what a sender's messages became, how long they waited for Kafka, and how often
// Kafka did not confirm them in time. Label values are outcomes, codes and routes: never an
// identity number, a name, a control id or an episode id.
//
// Two kinds of source: the intake's answer, timed here as it passes (publish latency, durable
// failures), and counters the connectors keep anyway (hl7::AcknowledgerStats, the MLLP server's
// and the intake's stats), copied into the registry when scraped (refresh()), so the hot path of
// hl7/ and kafka/ stays free of the metrics module.
//
// Thread-safe: observe_*() from any thread; refresh() from the metrics server's thread.

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/kafka/intake.h"
#include "connectors/metrics/registry.h"

namespace samordna::app {

class ListenerMetrics {
 public:
  // `listener`: "hl7" or "fhir", the prefix of the listener's own families.
  ListenerMetrics(metrics::Registry& registry, std::string listener);

  // One intake submission (or, for fhir's POST /events, one publish) answered after `took`.
  // outcome: "durable", "conflict", "timed_out", "failed".
  void observe_intake(const char* outcome, std::chrono::duration<double> took);

  // A counter whose value is kept elsewhere: `read` returns its running total, refresh() adds the
  // difference since the last scrape.
  void add_counter(const std::string& name, const std::string& help,
                   std::vector<std::string> label_names, std::vector<std::string> label_values,
                   std::function<uint64_t()> read);
  void add_gauge(const std::string& name, const std::string& help, std::function<double()> read);

  // Copies the connectors' counters into the registry: call before rendering.
  void refresh();

  metrics::Registry& registry() { return registry_; }

 private:
  struct Synced {
    metrics::Counter* counter;
    std::function<uint64_t()> read;
    uint64_t last = 0;
  };
  metrics::Registry& registry_;
  std::string listener_;
  metrics::Family<metrics::Histogram>& intake_duration_;
  metrics::Family<metrics::Counter>& intake_failures_;
  std::mutex mutex_;  // guards synced_ and the families registered by add_counter
  std::vector<Synced> synced_;
  std::vector<std::pair<metrics::Gauge*, std::function<double()>>> gauges_;
  std::map<std::string, metrics::Family<metrics::Counter>*> families_;
};

// The intake's own counters (transactions committed and aborted, submissions by outcome), shared
// by both listeners.
void add_intake_counters(ListenerMetrics& m, const kafka::Intake& intake);

}  // namespace samordna::app
