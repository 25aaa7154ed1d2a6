#include "engine/app/run_metrics.h"

#include <gtest/gtest.h>

#include "connectors/metrics/registry.h"

namespace samordna::app {
namespace {

using Kind = pipeline::Outcome::Kind;

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

v1::Event admitted() {
  v1::Event e;
  e.set_episode_id("ep-1");
  e.mutable_admitted();
  return e;
}

v1::Notification missed(v1::DeadlineKind kind) {
  v1::Notification n;
  n.mutable_deadline_missed()->set_deadline(kind);
  return n;
}

TEST(MetricsRun, CountsOnlyCommittedTransactions) {
  metrics::Registry r;
  RunMetrics m(r);
  // A transaction that aborts: nothing of it counts, only the abort.
  m.event(admitted(), Kind::kApplied);
  m.notification(missed(v1::ADMISSION_NOTICE));
  m.dead_letter("malformed");
  m.timer_fired(std::chrono::milliseconds(300));
  m.transaction(false);
  auto text = r.render();
  EXPECT_TRUE(has(text, "samordna_transactions_total{outcome=\"aborted\"} 1")) << text;
  EXPECT_TRUE(has(text, "samordna_transactions_total{outcome=\"committed\"} 0"));
  EXPECT_EQ(text.find("samordna_events_total{"), std::string::npos);
  EXPECT_TRUE(has(text, "samordna_timer_fire_delay_seconds_count 0"));

  // The same input again, committed: counted once.
  m.event(admitted(), Kind::kApplied);
  m.event(admitted(), Kind::kDuplicate);
  v1::Event needs;
  needs.mutable_needs_assessed();
  m.event(needs, Kind::kRejected);
  m.notification(missed(v1::ADMISSION_NOTICE));
  m.notification(missed(v1::SIP_INVITATION));
  v1::Notification held;
  held.mutable_notice_held()->set_notice(v1::NoticeHeld::DISCHARGE_READY_NOTICE);
  held.mutable_notice_held()->set_reason(v1::NoticeHeld::MISSING_CONSENT);
  m.notification(held);
  m.dead_letter("malformed");
  m.dead_letter("unknown_episode");
  m.timer_fired(std::chrono::milliseconds(300));
  m.timer_fired(std::chrono::hours(2));
  m.transaction(true);
  text = r.render();
  EXPECT_TRUE(has(text, "samordna_transactions_total{outcome=\"committed\"} 1")) << text;
  EXPECT_TRUE(has(text, "samordna_events_total{kind=\"admitted\",outcome=\"applied\"} 1"));
  EXPECT_TRUE(has(text, "samordna_events_total{kind=\"admitted\",outcome=\"duplicate\"} 1"));
  EXPECT_TRUE(has(text, "samordna_events_total{kind=\"needsAssessed\",outcome=\"rejected\"} 1"));
  EXPECT_TRUE(has(text, "samordna_notifications_total{kind=\"deadlineMissed\"} 2"));
  EXPECT_TRUE(has(text, "samordna_notifications_total{kind=\"noticeHeld\"} 1"));
  EXPECT_TRUE(has(text, "samordna_deadlines_missed_total{deadline=\"admission_notice\"} 1"));
  EXPECT_TRUE(has(text, "samordna_deadlines_missed_total{deadline=\"sip_invitation\"} 1"));
  EXPECT_TRUE(has(text,
                  "samordna_notices_held_total{notice=\"discharge_ready_notice\",reason=\"missing_"
                  "consent\"} 1"));
  EXPECT_TRUE(has(text, "samordna_dead_letters_total{code=\"malformed\"} 1"));
  EXPECT_TRUE(has(text, "samordna_dead_letters_total{code=\"unknown_episode\"} 1"));
  EXPECT_TRUE(has(text, "samordna_timer_fire_delay_seconds_bucket{le=\"0.25\"} 0"));
  EXPECT_TRUE(has(text, "samordna_timer_fire_delay_seconds_bucket{le=\"0.5\"} 1"));
  EXPECT_TRUE(has(text, "samordna_timer_fire_delay_seconds_bucket{le=\"3600\"} 1"));
  EXPECT_TRUE(has(text, "samordna_timer_fire_delay_seconds_bucket{le=\"21600\"} 2"));
  EXPECT_TRUE(has(text, "samordna_timer_fire_delay_seconds_count 2"));

  // A later transaction adds to the same series.
  m.event(admitted(), Kind::kApplied);
  m.transaction(true);
  text = r.render();
  EXPECT_TRUE(has(text, "samordna_events_total{kind=\"admitted\",outcome=\"applied\"} 2"));
  EXPECT_TRUE(has(text, "samordna_dead_letters_total{code=\"malformed\"} 1"));
}

TEST(MetricsRun, GaugesForLagAndTimers) {
  metrics::Registry r;
  RunMetrics m(r);
  m.lag(0, 12);
  m.lag(3, 0);
  m.timers_pending(1020000);
  auto text = r.render();
  EXPECT_TRUE(has(text, "samordna_consumer_lag_records{partition=\"0\"} 12")) << text;
  EXPECT_TRUE(has(text, "samordna_consumer_lag_records{partition=\"3\"} 0"));
  EXPECT_TRUE(has(text, "samordna_timers_pending 1020000"));
  m.lag(0, std::nullopt);  // revoked: the series goes
  text = r.render();
  EXPECT_EQ(text.find("partition=\"0\""), std::string::npos);
  EXPECT_TRUE(has(text, "samordna_consumer_lag_records{partition=\"3\"} 0"));
}

TEST(MetricsRun, NoPersonalDataInLabels) {
  metrics::Registry r;
  RunMetrics m(r);
  v1::Event e = admitted();
  e.set_episode_id("19121212-1212");
  e.mutable_admitted()->mutable_patient()->set_personal_id("191212121212");
  m.event(e, Kind::kApplied);
  m.transaction(true);
  const auto text = r.render();
  EXPECT_EQ(text.find("1212"), std::string::npos) << text;
}

}  // namespace
}  // namespace samordna::app
