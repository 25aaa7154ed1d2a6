#include "connectors/metrics/registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include "engine/core/check.h"

namespace samordna::metrics {
namespace {

bool name_char(char c, bool first, bool colon) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (alpha || (colon && c == ':')) return true;
  return !first && c >= '0' && c <= '9';
}

void append_labels(std::string& out, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, std::string_view le = {}) {
  if (names.empty() && le.empty()) return;
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!le.empty()) {
    if (!names.empty()) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

void header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += escape_help(help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// One sample line: name{labels} value.
void write_sample(std::string& out, std::string_view name, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, std::string_view value,
                  std::string_view le = {}) {
  out += name;
  append_labels(out, names, values, le);
  out += ' ';
  out += value;
  out += '\n';
}

void render_series(std::string& out, const std::string& name, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, const Counter& c) {
  write_sample(out, name, names, values, std::to_string(c.value()));
}

void render_series(std::string& out, const std::string& name, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, const Gauge& g) {
  write_sample(out, name, names, values, format_value(g.value()));
}

void render_series(std::string& out, const std::string& name, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, const Histogram& h) {
  const auto snap = h.snapshot();
  const std::string bucket = name + "_bucket";
  for (size_t i = 0; i < h.bounds().size(); ++i) {
    write_sample(out, bucket, names, values, std::to_string(snap.cumulative[i]),
                 format_value(h.bounds()[i]));
  }
  const uint64_t count = snap.cumulative.back();
  write_sample(out, bucket, names, values, std::to_string(count), "+Inf");
  write_sample(out, name + "_sum", names, values, format_value(snap.sum));
  write_sample(out, name + "_count", names, values, std::to_string(count));
}

template <typename T>
constexpr const char* type_name() {
  if constexpr (std::is_same_v<T, Counter>) return "counter";
  if constexpr (std::is_same_v<T, Gauge>) return "gauge";
  return "histogram";
}

}  // namespace

namespace {
void check_bounds(const std::vector<double>& bounds) {
  for (size_t i = 0; i < bounds.size(); ++i) {
    SAMORDNA_CHECK(std::isfinite(bounds[i]), "histogram bounds are finite");
    SAMORDNA_CHECK(i == 0 || bounds[i - 1] < bounds[i], "histogram bounds increase strictly");
  }
}
}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  check_bounds(bounds_);
}

void Histogram::observe(double v) {
  // Few buckets: a linear scan beats a binary search and keeps the code obvious.
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

template <typename T>
Family<T>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds, size_t max_series)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)),
      max_series_(std::max<size_t>(max_series, 1)) {}

template <typename T>
std::unique_ptr<T> Family<T>::make() const {
  if constexpr (std::is_same_v<T, Histogram>) {
    return std::make_unique<Histogram>(bounds_);
  } else {
    return std::make_unique<T>();
  }
}

template <typename T>
T& Family<T>::labels(std::initializer_list<std::string_view> values) {
  std::vector<std::string> key;
  key.reserve(values.size());
  for (auto v : values) key.emplace_back(v);
  return labels(key);
}

template <typename T>
T& Family<T>::labels(const std::vector<std::string>& values) {
  SAMORDNA_CHECK(values.size() == label_names_.size(), "one value per label name");
  std::lock_guard lock(mutex_);
  if (auto it = series_.find(values); it != series_.end()) return *it->second;
  if (series_.size() >= max_series_) {
    if (!warned_) {
      warned_ = true;
      spdlog::warn("metric {}: more than {} label sets; the rest are counted as \"other\"", name_,
                   max_series_);
    }
    auto& overflow = series_[std::vector<std::string>(label_names_.size(), "other")];
    if (!overflow) overflow = make();
    return *overflow;
  }
  auto& slot = series_[values];
  slot = make();
  return *slot;
}

template <typename T>
void Family<T>::remove(const std::vector<std::string>& values) {
  std::lock_guard lock(mutex_);
  series_.erase(values);
}

template <typename T>
void Family<T>::render(std::string& out) const {
  header(out, name_, help_, type_name<T>());
  std::lock_guard lock(mutex_);
  for (const auto& [values, series] : series_)
    render_series(out, name_, label_names_, values, *series);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void Registry::add_name(const std::string& name, const std::vector<std::string>& label_names,
                        Type type, void* family) {
  SAMORDNA_CHECK(valid_metric_name(name), "a valid metric name");
  for (const auto& e : order_) SAMORDNA_CHECK(e.name != name, "a metric name is registered once");
  std::set<std::string_view> seen;
  for (const auto& l : label_names) {
    SAMORDNA_CHECK(valid_label_name(l), "a valid label name");
    SAMORDNA_CHECK(type != Type::kHistogram || l != "le", "le is the histogram's own label");
    SAMORDNA_CHECK(seen.insert(l).second, "label names differ");
  }
  order_.push_back({name, type, family});
}

Family<Counter>& Registry::counter(std::string name, std::string help,
                                   std::vector<std::string> label_names, size_t max_series) {
  std::lock_guard lock(mutex_);
  counters_.emplace_back(new Family<Counter>(std::move(name), std::move(help),
                                             std::move(label_names), {}, max_series));
  auto& f = *counters_.back();
  add_name(f.name_, f.label_names_, Type::kCounter, &f);
  return f;
}

Family<Gauge>& Registry::gauge(std::string name, std::string help,
                               std::vector<std::string> label_names, size_t max_series) {
  std::lock_guard lock(mutex_);
  gauges_.emplace_back(
      new Family<Gauge>(std::move(name), std::move(help), std::move(label_names), {}, max_series));
  auto& f = *gauges_.back();
  add_name(f.name_, f.label_names_, Type::kGauge, &f);
  return f;
}

Family<Histogram>& Registry::histogram(std::string name, std::string help,
                                       std::vector<double> bounds,
                                       std::vector<std::string> label_names, size_t max_series) {
  check_bounds(bounds);
  std::lock_guard lock(mutex_);
  histograms_.emplace_back(new Family<Histogram>(
      std::move(name), std::move(help), std::move(label_names), std::move(bounds), max_series));
  auto& f = *histograms_.back();
  add_name(f.name_, f.label_names_, Type::kHistogram, &f);
  return f;
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& e : order_) {
    switch (e.type) {
      case Type::kCounter:
        static_cast<const Family<Counter>*>(e.family)->render(out);
        break;
      case Type::kGauge:
        static_cast<const Family<Gauge>*>(e.family)->render(out);
        break;
      case Type::kHistogram:
        static_cast<const Family<Histogram>*>(e.family)->render(out);
        break;
    }
  }
  return out;
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  SAMORDNA_CHECK(ec == std::errc(), "a double fits 64 characters");
  return std::string(buf, end);
}

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, true)) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0, false)) return false;
  }
  return true;
}

}  // namespace samordna::metrics
