#pragma once

// One notification as one webhook request for one endpoint: the body (the notification's JSON, the
// protobuf JSON mapping, as `samordna consume` prints it) and the Standard Webhooks headers
// (signature.h). The same notification gives the same body and webhook-id on every attempt; only
// the timestamp and so the signature change.
//
// Not thread-safe (it holds a JsonCodec): one per delivery thread.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "connectors/deliver/signature.h"
#include "engine/core/json_codec.h"
#include "samordna/v1/notification.pb.h"

namespace samordna::deliver {

struct WebhookRequest {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

class WebhookBuilder {
 public:
  // nullopt when protobuf cannot print the notification as JSON (a timestamp out of range): such a
  // notification cannot be delivered as JSON and goes to the dead letters ("unprintable").
  std::optional<WebhookRequest> build(const v1::Notification& notification,
                                      const std::vector<Secret>& secrets, int64_t now_unix);

 private:
  JsonCodec json_;
};

}  // namespace samordna::deliver
