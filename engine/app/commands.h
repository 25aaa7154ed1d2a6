#pragma once

// The samordna executable's subcommands. Each file registers its own on the CLI11 app with the
// action to run when chosen; main.cc only wires them up. Exit statuses are shared by all.

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/time.h"
#include "rules/rule_set.h"

namespace samordna::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRejected = 1;  // some input was rejected; all valid input was processed
inline constexpr int kExitUsage = 2;     // bad arguments or configuration
inline constexpr int kExitFailure = 3;   // I/O or internal failure

using Action = std::function<int()>;
using Commands = std::vector<std::pair<CLI::App*, Action>>;

void add_simulate_commands(CLI::App& app, Commands& commands);    // simulate, explain
void add_rules_commands(CLI::App& app, Commands& commands);       // rules check
void add_run_command(CLI::App& app, Commands& commands);          // run (the Kafka service)
void add_kafka_tool_commands(CLI::App& app, Commands& commands);  // produce, consume
void add_demo_command(CLI::App& app, Commands& commands);         // demo (embedded Kafka)
void add_hl7_commands(CLI::App& app, Commands& commands);         // hl7 parse
void add_token_command(CLI::App& app, Commands& commands);        // token (a JWT for serve)
void add_serve_command(CLI::App& app, Commands& commands);        // serve (read model + API)
void add_fhir_commands(CLI::App& app, Commands& commands);        // fhir parse, fhir listen
void add_deliver_command(CLI::App& app, Commands& commands);      // deliver, deliver replay
void add_whatif_command(CLI::App& app, Commands& commands);       // whatif (two rule books)

// Loads the rule book, or prints every problem with file and line and returns nothing.
std::optional<rules::RuleBook> load_rules(const std::string& dir);

// Parses an RFC 3339 option value; throws CLI::ValidationError naming the option.
std::optional<Instant> parse_time_option(const std::string& option, const std::string& text);

}  // namespace samordna::app
