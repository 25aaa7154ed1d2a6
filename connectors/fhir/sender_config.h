#pragma once

// One FHIR sender's settings from YAML (connectors/fhir/README.md, "Configuration"): the same
// shape as connectors/hl7/sender_config.h. Every key is optional; an absent file or key keeps the
// default of SenderConfig (mapping.h).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/fhir/mapping.h"
#include "engine/core/result.h"

namespace samordna::fhir {

// Unknown keys are errors (a typo must not silently keep a default); the error names the file,
// the key and the line.
Result<SenderConfig> load_sender_config(const std::string& path);

// One sender's own settings in a listener's table: chosen by the client certificate the TLS
// handshake verified (`client`, its RFC 2253 subject) and/or the resource's `meta.source`
// (`source`, R4 Resource.meta.source: the Bundle's, else the Encounter's). Keys it does not set
// are the table's defaults.
struct SenderOverride {
  std::string client;
  std::string source;
  SenderConfig config;
};

// The listener's senders (connectors/fhir/README.md, "Senders"): the top-level keys are the
// defaults, for any sender not listed; `senders:` lists the others, each with its own `sender`
// name (its Event.source and memory key, distinct from every other).
struct SenderTable {
  SenderConfig defaults;
  std::vector<SenderOverride> senders;

  // The settings of a request from `client` (the verified certificate subject, nullopt without
  // one) carrying `source` (meta.source, nullopt without one). An entry with a `client` is only
  // ever chosen for that certificate (meta.source cannot claim it); an entry with both needs
  // both; an entry with only a `source` is chosen by meta.source. Otherwise the defaults.
  const SenderConfig& select(std::optional<std::string_view> client,
                             std::optional<std::string_view> source) const;
  // Whether any entry is chosen by meta.source (else the listener need not read it).
  bool uses_source() const;
};

// The file of `samordna fhir listen --config` (and `fhir parse --config`): a plain sender file
// (load_sender_config) is a table with no `senders:`.
Result<SenderTable> load_sender_table(const std::string& path);

}  // namespace samordna::fhir
