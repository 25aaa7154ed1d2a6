#include "connectors/metrics/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "connectors/metrics/http_metrics.h"

namespace samordna::metrics {
namespace {

TEST(MetricsRegistry, CounterWithoutLabels) {
  Registry r;
  auto& c = r.counter("samordna_things_total", "Things seen.").labels({});
  c.inc();
  c.inc(41);
  EXPECT_EQ(r.render(),
            "# HELP samordna_things_total Things seen.\n"
            "# TYPE samordna_things_total counter\n"
            "samordna_things_total 42\n");
}

TEST(MetricsRegistry, LabelledSeriesAreSortedAndEscaped) {
  Registry r;
  auto& f = r.counter("samordna_x_total", "Help with a \\ backslash\nand a newline.", {"a", "b"});
  f.labels({"z", "1"}).inc();
  f.labels({"quote\"back\\slash\nnl", "2"}).inc(3);
  f.labels({"z", "1"}).inc();  // the same series again
  EXPECT_EQ(r.render(),
            "# HELP samordna_x_total Help with a \\\\ backslash\\nand a newline.\n"
            "# TYPE samordna_x_total counter\n"
            "samordna_x_total{a=\"quote\\\"back\\\\slash\\nnl\",b=\"2\"} 3\n"
            "samordna_x_total{a=\"z\",b=\"1\"} 2\n");
}

TEST(MetricsRegistry, GaugeValues) {
  Registry r;
  auto& g = r.gauge("samordna_g", "A gauge.", {"p"});
  g.labels({"0"}).set(12);
  g.labels({"1"}).set(0.5);
  g.labels({"2"}).set(-3);
  g.labels({"2"}).add(1);
  EXPECT_EQ(r.render(),
            "# HELP samordna_g A gauge.\n"
            "# TYPE samordna_g gauge\n"
            "samordna_g{p=\"0\"} 12\n"
            "samordna_g{p=\"1\"} 0.5\n"
            "samordna_g{p=\"2\"} -2\n");
  g.remove({"1"});
  EXPECT_EQ(r.render().find("p=\"1\""), std::string::npos);
}

TEST(MetricsRegistry, HistogramBucketsAreCumulativeWithInf) {
  Registry r;
  auto& h = r.histogram("samordna_d_seconds", "Durations.", {0.5, 1, 10}, {"route"});
  auto& s = h.labels({"/a"});
  s.observe(0.25);
  s.observe(0.5);  // on a bound: counted in that bucket (le means <=)
  s.observe(5);
  s.observe(100);
  EXPECT_EQ(r.render(),
            "# HELP samordna_d_seconds Durations.\n"
            "# TYPE samordna_d_seconds histogram\n"
            "samordna_d_seconds_bucket{route=\"/a\",le=\"0.5\"} 2\n"
            "samordna_d_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"
            "samordna_d_seconds_bucket{route=\"/a\",le=\"10\"} 3\n"
            "samordna_d_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
            "samordna_d_seconds_sum{route=\"/a\"} 105.75\n"
            "samordna_d_seconds_count{route=\"/a\"} 4\n");
}

TEST(MetricsRegistry, HistogramWithoutLabels) {
  Registry r;
  auto& h = r.histogram("samordna_h_seconds", "H.", {1}).labels({});
  h.observe(2);
  EXPECT_EQ(r.render(),
            "# HELP samordna_h_seconds H.\n"
            "# TYPE samordna_h_seconds histogram\n"
            "samordna_h_seconds_bucket{le=\"1\"} 0\n"
            "samordna_h_seconds_bucket{le=\"+Inf\"} 1\n"
            "samordna_h_seconds_sum 2\n"
            "samordna_h_seconds_count 1\n");
}

TEST(MetricsRegistry, FamiliesRenderInRegistrationOrderEvenWithoutSeries) {
  Registry r;
  r.gauge("samordna_b", "B.");
  r.counter("samordna_a_total", "A.");
  EXPECT_EQ(r.render(),
            "# HELP samordna_b B.\n# TYPE samordna_b gauge\n"
            "# HELP samordna_a_total A.\n# TYPE samordna_a_total counter\n");
}

TEST(MetricsRegistry, CardinalityIsBounded) {
  Registry r;
  auto& f = r.counter("samordna_c_total", "C.", {"k"}, 2);
  f.labels({"a"}).inc();
  f.labels({"b"}).inc();
  f.labels({"c"}).inc();
  f.labels({"d"}).inc();
  const auto text = r.render();
  EXPECT_NE(text.find("samordna_c_total{k=\"a\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("samordna_c_total{k=\"b\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("samordna_c_total{k=\"other\"} 2\n"), std::string::npos);
  EXPECT_EQ(text.find("k=\"c\""), std::string::npos);
}

TEST(MetricsRegistry, FormatValue) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(1e21), "1e+21");
  EXPECT_EQ(format_value(0.001), "0.001");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(MetricsRegistry, Names) {
  EXPECT_TRUE(valid_metric_name("samordna_events_total"));
  EXPECT_TRUE(valid_metric_name("a:b_c9"));
  EXPECT_FALSE(valid_metric_name("9abc"));
  EXPECT_FALSE(valid_metric_name("a-b"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_TRUE(valid_label_name("route"));
  EXPECT_FALSE(valid_label_name("__name__"));
  EXPECT_FALSE(valid_label_name("a:b"));
}

TEST(MetricsRegistryDeathTest, ProgrammingErrorsAbort) {
  EXPECT_DEATH(
      {
        Registry r;
        r.counter("bad-name", "x");
      },
      "");
  EXPECT_DEATH(
      {
        Registry r;
        r.counter("samordna_a_total", "x");
        r.gauge("samordna_a_total", "y");
      },
      "");
  EXPECT_DEATH(
      {
        Registry r;
        r.counter("samordna_a_total", "x", {"k"}).labels({"1", "2"});
      },
      "");
  EXPECT_DEATH(
      {
        Registry r;
        r.histogram("samordna_h", "x", {1, 1});
      },
      "");
}

TEST(MetricsRegistry, ConcurrentIncrementsAreAllCounted) {
  Registry r;
  auto& f = r.counter("samordna_n_total", "N.", {"t"});
  auto& h = r.histogram("samordna_n_seconds", "N.", {0.5}).labels({});
  constexpr int kThreads = 4, kEach = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto& c = f.labels({t % 2 == 0 ? "even" : "odd"});
      for (int i = 0; i < kEach; ++i) {
        c.inc();
        h.observe(1);
      }
    });
  }
  std::thread renderer([&] {
    for (int i = 0; i < 50; ++i) (void)r.render();
  });
  for (auto& t : threads) t.join();
  renderer.join();
  EXPECT_EQ(f.labels({"even"}).value() + f.labels({"odd"}).value(), uint64_t{kThreads * kEach});
  EXPECT_EQ(h.snapshot().cumulative.back(), uint64_t{kThreads * kEach});
  EXPECT_DOUBLE_EQ(h.snapshot().sum, kThreads * kEach);
}

TEST(MetricsHttp, RequestsByRouteAndStatus) {
  Registry r;
  HttpMetrics http(r);
  http.observe("/api/v1/notifications/{id}", 200, std::chrono::milliseconds(3));
  http.observe("/api/v1/notifications/{id}", 200, std::chrono::milliseconds(30));
  http.observe("", 404, std::chrono::milliseconds(1));
  const auto text = r.render();
  EXPECT_NE(
      text.find(
          "samordna_http_requests_total{route=\"/api/v1/notifications/{id}\",status=\"200\"} 2\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("samordna_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("samordna_http_request_duration_seconds_bucket{route=\"/api/v1/"
                      "notifications/{id}\",le=\"0.005\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("samordna_http_request_duration_seconds_count{route=\"unmatched\"} 1\n"),
            std::string::npos);
}

}  // namespace
}  // namespace samordna::metrics
