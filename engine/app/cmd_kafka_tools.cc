// samordna produce / consume: tools for integrators testing a feed by hand.

#include "engine/app/commands.h"

namespace samordna::app {

void add_kafka_tool_commands(CLI::App&, Commands&) {}

}  // namespace samordna::app
