#pragma once

// The config file of `samordna hl7 listen --config F` (connectors/hl7/README.md, "The listener"):
// the sender keys of sender_config.h at the top level are the defaults for every sender;
// `senders:` overrides them per (MSH-3.1, MSH-4.1); `listener:` sets the server, the ACK bound and
// the intake. Every key is optional: no file at all runs on the documented defaults.
//
//   default_charset: 8859/1          # every sender
//   senders:
//     - application: PAS             # MSH-3.1
//       facility: SUS                # MSH-4.1
//       inpatient_classes: [I, INPATIENT]
//   listener:
//     port: 2575
//     durable_bound_ms: 3000
//     tls_cert: /etc/samordna/mllp.crt
//     tls_key: /etc/samordna/mllp.key

#include <chrono>
#include <string>

#include "connectors/hl7/acknowledger.h"
#include "connectors/hl7/mllp_server.h"
#include "engine/core/result.h"

namespace samordna::hl7 {

struct ListenerConfig {
  SenderTable senders;
  ServerOptions server;
  AcknowledgerOptions ack;
  // The intake's settings (engine/app hands them to kafka::IntakeOptions).
  std::string instance = "hl7";
  std::string memory_topic = "samordna.intake.memory";
  std::chrono::hours memory_retention{24 * 7};
  std::size_t max_batch = 500;
  std::chrono::milliseconds linger{5};
};

// Reads the file; unknown keys and wrong types are errors naming the file, the line and the key.
Result<ListenerConfig> load_listener_config(const std::string& path);

}  // namespace samordna::hl7
