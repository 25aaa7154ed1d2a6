#pragma once

// `samordna deliver`'s configuration (YAML; connectors/deliver/README.md, "Configuration"): the
// Kafka connection and topics, and per endpoint where and how to deliver. Secrets are read from the
// files named here when the config is loaded; neither they nor their paths' contents are ever
// logged or put in an error text.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "connectors/deliver/https_client.h"
#include "connectors/deliver/retry.h"
#include "connectors/deliver/signature.h"
#include "engine/core/result.h"
#include "samordna/v1/event.pb.h"
#include "samordna/v1/notification.pb.h"

namespace samordna::deliver {

enum class Format { kJson, kFhir };

struct EndpointConfig {
  // Stable, [A-Za-z0-9._-]{1,64}: the outbox key, the status key and the metrics label. Renaming
  // an endpoint leaves its pending deliveries behind under the old name.
  std::string name;
  v1::Organisation organisation;  // whose: "municipality:0180", "outpatient_unit:vc-1", ...
  Endpoint endpoint;              // host, port, path, tls
  std::vector<Secret> secrets;    // 1 or 2 (a rotation): each delivery carries both signatures
  Format format = Format::kJson;
  // The notification kinds delivered (the JSON names of Notification's oneof: "admissionNotice",
  // "dischargeReadyNotice", ...); empty: every kind.
  std::vector<std::string> kinds;
  ClientOptions client;  // CA bundle, client certificate, timeouts
  int concurrency = 4;   // requests in flight at once (different episodes; one per episode)
};

struct DeliverConfig {
  std::string bootstrap;                          // empty: --bootstrap must give it
  std::map<std::string, std::string> properties;  // librdkafka properties (TLS, SASL)
  std::string notifications_topic = "samordna.notifications";
  std::string status_topic = "samordna.delivery.status";
  std::string deadletter_topic = "samordna.delivery.deadletter";
  std::string replay_topic = "samordna.delivery.replay";
  std::vector<EndpointConfig> endpoints;
  // The schedule (retry.h; README "Retry schedule"): `retry: {firstDelaySeconds, factor,
  // maxDelaySeconds, giveUpAfterSeconds}`; tests shorten it.
  RetryPolicy retry;
};

// Reads and checks the file; relative paths in it (secret files, CA bundles) are relative to its
// folder. kInvalidArgument "file:line: reason" on the first problem.
Result<DeliverConfig> load_deliver_config(const std::filesystem::path& file);
// The same for a config's text (the fuzzer; `file` names it in errors and anchors paths).
Result<DeliverConfig> parse_deliver_config(const std::string& text,
                                           const std::filesystem::path& file);

// "municipality:0180" <-> Organisation. kinds: municipality, outpatient_unit, ward, region.
bool parse_organisation(const std::string& text, v1::Organisation& out);
std::string organisation_text(const v1::Organisation& o);

// The JSON name of a notification's kind ("admissionNotice"); "" when none is set.
std::string notification_kind(const v1::Notification& n);

}  // namespace samordna::deliver
