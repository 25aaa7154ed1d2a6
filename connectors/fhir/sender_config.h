#pragma once

// One FHIR sender's settings from YAML (connectors/fhir/README.md, "Configuration"): the same
// shape as connectors/hl7/sender_config.h. Every key is optional; an absent file or key keeps the
// default of SenderConfig (mapping.h).

#include <string>

#include "connectors/fhir/mapping.h"
#include "engine/core/result.h"

namespace samordna::fhir {

// Unknown keys are errors (a typo must not silently keep a default); the error names the file,
// the key and the line.
Result<SenderConfig> load_sender_config(const std::string& path);

}  // namespace samordna::fhir
