#include "connectors/deliver/webhook.h"

#include <gtest/gtest.h>

namespace samordna::deliver {
namespace {

std::string header(const WebhookRequest& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

v1::Notification notification() {
  v1::Notification n;
  n.set_notification_id("ep-1/e/ev-1/0");
  n.set_episode_id("ep-1");
  n.mutable_issued_at()->set_seconds(1764806400);
  n.mutable_deadline_missed()->set_deadline(v1::ADMISSION_NOTICE);
  return n;
}

TEST(DeliverWebhook, BodyIsTheNotificationJsonAndTheHeadersSignIt) {
  WebhookBuilder builder;
  const Secret secret{std::string(32, 's')};
  auto r = builder.build(notification(), {secret}, 1764806460);
  ASSERT_TRUE(r);
  EXPECT_EQ(
      r->body,
      R"({"notificationId":"ep-1/e/ev-1/0","episodeId":"ep-1","issuedAt":"2025-12-04T00:00:00Z",)"
      R"("deadlineMissed":{"deadline":"ADMISSION_NOTICE"}})");
  EXPECT_EQ(header(*r, "Content-Type"), "application/json");
  EXPECT_EQ(header(*r, "webhook-id"), "ep-1/e/ev-1/0");
  EXPECT_EQ(header(*r, "webhook-timestamp"), "1764806460");
  EXPECT_TRUE(
      verify({secret}, header(*r, "webhook-signature"), "ep-1/e/ev-1/0", 1764806460, r->body));
}

TEST(DeliverWebhook, ARetryHasTheSameIdAndBodyAndANewTimestamp) {
  WebhookBuilder builder;
  const Secret secret{std::string(32, 's')};
  auto first = builder.build(notification(), {secret}, 100);
  auto retry = builder.build(notification(), {secret}, 200);
  ASSERT_TRUE(first && retry);
  EXPECT_EQ(first->body, retry->body);
  EXPECT_EQ(header(*first, "webhook-id"), header(*retry, "webhook-id"));
  EXPECT_NE(header(*first, "webhook-signature"), header(*retry, "webhook-signature"));
}

TEST(DeliverWebhook, ANotificationJsonCannotPrintIsNotBuilt) {
  WebhookBuilder builder;
  auto n = notification();
  n.mutable_issued_at()->set_seconds(int64_t{1} << 50);  // past year 9999
  EXPECT_FALSE(builder.build(n, {Secret{std::string(32, 's')}}, 0));
}

}  // namespace
}  // namespace samordna::deliver
