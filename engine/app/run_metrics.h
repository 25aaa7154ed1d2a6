#pragma once

// `samordna run`'s metrics: the Kafka service's observer hooks (kafka::ServiceObserver) turned into
// Prometheus metrics in a registry (connectors/metrics/README.md has the table).
//
// A transaction's inputs are counted when it commits: the observer keeps them aside while the
// transaction is open and drops them when it aborts (its input is re-read and counted then), so
// samordna_events_total equals the events committed, once each.
//
// Labels are kinds and codes from the contract's enums, never contents: no personal data.
// Thread: the hooks run on the service's thread; the registry renders on any.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "connectors/kafka/service.h"
#include "connectors/metrics/registry.h"

namespace samordna::app {

class RunMetrics final : public kafka::ServiceObserver {
 public:
  explicit RunMetrics(metrics::Registry& registry);

  void event(const v1::Event& event, pipeline::Outcome::Kind outcome) override;
  void dead_letter(std::string_view code) override;
  void notification(const v1::Notification& notification) override;
  void timer_fired(std::chrono::duration<double> late) override;
  void transaction(bool committed) override;
  void lag(pipeline::PartitionId partition, std::optional<int64_t> records) override;
  void timers_pending(uint64_t estimate) override;

  // Buckets of samordna_timer_fire_delay_seconds: 10 ms to a week (replays see event-time gaps
  // of days).
  static std::vector<double> delay_buckets();

 private:
  // Oneof and enum numbers of the contract are small: counts by number, and the series for each
  // number looked up once.
  static constexpr size_t kSlots = 64;
  template <size_t N>
  struct Slots {
    std::array<uint64_t, N> pending{};
    std::array<metrics::Counter*, N> series{};
    std::vector<size_t> touched;  // slots with a pending count, so a commit scans only those
    void add(size_t slot) {
      if (pending[slot]++ == 0) touched.push_back(slot);
    }
  };

  void flush();
  void drop();

  metrics::Family<metrics::Counter>& events_;
  metrics::Family<metrics::Counter>& dead_letters_;
  metrics::Family<metrics::Counter>& notifications_;
  metrics::Family<metrics::Counter>& deadlines_missed_;
  metrics::Family<metrics::Counter>& notices_held_;
  metrics::Family<metrics::Counter>& transactions_;
  metrics::Counter& committed_;
  metrics::Counter& aborted_;
  metrics::Histogram& fire_delay_;
  metrics::Family<metrics::Gauge>& lag_;
  metrics::Gauge& timers_pending_;

  // What the open transaction has counted so far.
  Slots<kSlots * 3> events_by_kind_;  // payload case * 3 + outcome
  Slots<kSlots> notifications_by_kind_;
  Slots<kSlots> missed_by_deadline_;
  static constexpr size_t kHeldSlots = 8;
  Slots<kHeldSlots * kHeldSlots> held_by_notice_;  // notice * kHeldSlots + reason
  std::map<std::string, uint64_t, std::less<>> dead_letters_pending_;
  std::vector<double> delays_pending_;
  bool dirty_ = false;
};

}  // namespace samordna::app
