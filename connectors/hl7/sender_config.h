#pragma once

// Per-sender settings from YAML (connectors/hl7/README.md, "Configuration"). Every key is optional;
// an absent file or key keeps the default of SenderConfig.

#include <string>

#include "connectors/hl7/adt_mapping.h"
#include "engine/core/result.h"

namespace samordna::hl7 {

// Reads one sender's settings (a YAML mapping) from `path`. Unknown keys are errors (a typo must
// not silently keep a default); the error names the file, the key and the line.
Result<SenderConfig> load_sender_config(const std::string& path);

}  // namespace samordna::hl7
