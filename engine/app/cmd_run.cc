// samordna run: the Kafka service (connectors/kafka).

#include "engine/app/commands.h"

namespace samordna::app {

void add_run_command(CLI::App&, Commands&) {}

}  // namespace samordna::app
