// The listeners' metrics (engine/app/listener_metrics.h): counters kept by the connectors are
// copied into the registry by refresh() as differences, so a scrape shows running totals; the
// intake's answers land in the latency histogram and the durable failures by reason.

#include "engine/app/listener_metrics.h"

#include <gtest/gtest.h>

#include <atomic>

namespace samordna::app {
namespace {

std::string line_of(const std::string& text, const std::string& series) {
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return "";
  return text.substr(at + 1, text.find('\n', at + 1) - at - 1);
}

TEST(MetricsListener, RefreshCopiesRunningTotalsAndGauges) {
  metrics::Registry registry;
  ListenerMetrics m(registry, "hl7");
  std::atomic<uint64_t> accepted{0}, rejected{0};
  double open = 0;
  m.add_counter("samordna_hl7_messages_total", "help", {"ack"}, {"accepted"},
                [&] { return accepted.load(); });
  m.add_counter("samordna_hl7_messages_total", "help", {"ack"}, {"rejected"},
                [&] { return rejected.load(); });
  m.add_gauge("samordna_hl7_connections_open", "help", [&] { return open; });
  accepted = 5;
  open = 3;
  m.refresh();
  accepted = 7;
  rejected = 1;
  m.refresh();
  m.refresh();  // nothing new: no change
  const auto text = registry.render();
  EXPECT_EQ(line_of(text, R"(samordna_hl7_messages_total{ack="accepted"})"),
            R"(samordna_hl7_messages_total{ack="accepted"} 7)");
  EXPECT_EQ(line_of(text, R"(samordna_hl7_messages_total{ack="rejected"})"),
            R"(samordna_hl7_messages_total{ack="rejected"} 1)");
  EXPECT_EQ(line_of(text, "samordna_hl7_connections_open"), "samordna_hl7_connections_open 3");
  // One HELP/TYPE per family, not per series.
  EXPECT_EQ(text.find("# TYPE samordna_hl7_messages_total"),
            text.rfind("# TYPE samordna_hl7_messages_total"));
}

TEST(MetricsListener, IntakeLatencyByOutcomeAndFailuresByReason) {
  metrics::Registry registry;
  ListenerMetrics m(registry, "fhir");
  // The failure series exist from the start, at 0.
  EXPECT_NE(
      line_of(registry.render(),
              R"(samordna_intake_durable_failures_total{listener="fhir",reason="timed_out"})"),
      "");
  m.observe_intake("durable", std::chrono::milliseconds{12});
  m.observe_intake("durable", std::chrono::milliseconds{30});
  m.observe_intake("timed_out", std::chrono::seconds{3});
  m.observe_intake("conflict", std::chrono::milliseconds{5});
  const auto text = registry.render();
  EXPECT_EQ(
      line_of(
          text,
          R"(samordna_intake_publish_duration_seconds_count{listener="fhir",outcome="durable"})"),
      R"(samordna_intake_publish_duration_seconds_count{listener="fhir",outcome="durable"} 2)");
  EXPECT_EQ(
      line_of(text,
              R"(samordna_intake_durable_failures_total{listener="fhir",reason="timed_out"})"),
      R"(samordna_intake_durable_failures_total{listener="fhir",reason="timed_out"} 1)");
  EXPECT_EQ(
      line_of(text, R"(samordna_intake_durable_failures_total{listener="fhir",reason="failed"})"),
      R"(samordna_intake_durable_failures_total{listener="fhir",reason="failed"} 0)");
}

}  // namespace
}  // namespace samordna::app
