#include "connectors/deliver/webhook.h"

namespace samordna::deliver {

std::optional<WebhookRequest> WebhookBuilder::build(const v1::Notification& notification,
                                                    const std::vector<Secret>& secrets,
                                                    int64_t now_unix) {
  WebhookRequest r;
  if (!json_.print(notification, r.body)) return std::nullopt;
  const std::string& id = notification.notification_id();
  r.headers = {
      {"Content-Type", "application/json"},
      {"webhook-id", id},
      {"webhook-timestamp", std::to_string(now_unix)},
      {"webhook-signature", signature_header(secrets, id, now_unix, r.body)},
  };
  return r;
}

}  // namespace samordna::deliver
