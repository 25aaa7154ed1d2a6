#pragma once

// A small Prometheus metrics registry: counters, gauges and histograms with fixed buckets, in
// families with a fixed set of label names, rendered in the Prometheus text exposition format
// 0.0.4. Debian 12 packages no Prometheus C++ client, so this is the smallest thing that does the
// job (connectors/metrics/README.md).
//
// Cost: updating a metric is one or two relaxed atomic operations, no lock. Looking a labelled
// series up in its family (Family::labels) takes the family's mutex: callers on a hot path look a
// series up once and keep the reference, which stays valid as long as the registry.
//
// Cardinality is bounded: a family holds at most `max_series` label sets; past that every new set
// lands in one overflow series whose label values are all "other" (and a warning is logged once).
// Label values must never carry personal data (identity numbers, names): use kinds, codes,
// partitions, routes with their parameters left out.
//
// Thread-safe: any thread may update, look up and render.

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace samordna::metrics {

// A value that only goes up (Prometheus "counter"); its name ends in _total.
class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (Prometheus "gauge").
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (Prometheus "histogram"): per bucket the observations
// at or below its upper bound, plus their sum and count.
class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, strictly increasing, finite; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (= count)
    double sum = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // not cumulative; the last is +Inf
  std::atomic<double> sum_{0};
};

// Buckets for durations in seconds: 1 ms to 10 s.
std::vector<double> latency_buckets();

enum class Type { kCounter, kGauge, kHistogram };

// The series of one metric name, one per label set.
template <typename T>
class Family {
 public:
  // The series with these label values, in the order of the family's label names (created on
  // first use). The count of values must match the label names: a programming error aborts.
  T& labels(std::initializer_list<std::string_view> values);
  T& labels(const std::vector<std::string>& values);
  // Drops a series (a partition that was revoked). References to it become dangling: only the
  // owner of a series may remove it.
  void remove(const std::vector<std::string>& values);

 private:
  friend class Registry;
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds, size_t max_series);
  std::unique_ptr<T> make() const;
  void render(std::string& out) const;

  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // histograms only
  const size_t max_series_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> series_;
  bool warned_ = false;
};

// Owns every family. Register at startup; names and label names are checked (a bad one aborts:
// they are constants in the code), and a name may be registered once.
class Registry {
 public:
  static constexpr size_t kDefaultMaxSeries = 1000;

  Family<Counter>& counter(std::string name, std::string help,
                           std::vector<std::string> label_names = {},
                           size_t max_series = kDefaultMaxSeries);
  Family<Gauge>& gauge(std::string name, std::string help,
                       std::vector<std::string> label_names = {},
                       size_t max_series = kDefaultMaxSeries);
  Family<Histogram>& histogram(std::string name, std::string help, std::vector<double> bounds,
                               std::vector<std::string> label_names = {},
                               size_t max_series = kDefaultMaxSeries);

  // The text exposition format 0.0.4, families in registration order.
  std::string render() const;

 private:
  struct Entry {
    std::string name;
    Type type;
    void* family;  // Family<Counter|Gauge|Histogram>, owned by the holders below
  };
  void add_name(const std::string& name, const std::vector<std::string>& label_names, Type type,
                void* family);

  mutable std::mutex mutex_;
  std::vector<Entry> order_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
};

// The HTTP Content-Type of render()'s output.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Exposition-format helpers, public for the tests.
std::string escape_label_value(std::string_view v);  // backslash, double quote, newline
std::string escape_help(std::string_view v);         // backslash, newline
std::string format_value(double v);                  // shortest round trip; +Inf, -Inf, NaN
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace samordna::metrics
