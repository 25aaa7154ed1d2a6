// The samordna executable: the only place that sees every module. `samordna --help` lists the
// subcommands; commands.h lists the exit statuses.

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "engine/app/commands.h"

namespace samordna::app {

std::optional<rules::RuleBook> load_rules(const std::string& dir) {
  auto loaded = rules::load_rule_book(dir);
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) std::cerr << rules::to_string(e) << '\n';
    std::cerr << "samordna: " << loaded.errors.size() << " error(s) in rules directory " << dir
              << '\n';
    return std::nullopt;
  }
  return std::move(loaded.book);
}

std::optional<Instant> parse_time_option(const std::string& option, const std::string& text) {
  if (text.empty()) return std::nullopt;
  auto t = parse_rfc3339(text);
  if (!t) throw CLI::ValidationError(option, "expects an RFC 3339 time, e.g. 2025-03-10T00:00:00Z");
  return t.value();
}

namespace {

int run(int argc, char** argv) {
  // stdout carries data (notifications, consumed records); logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("samordna"));
  spdlog::set_level(spdlog::level::warn);
  CLI::App app{"samordna: discharge coordination under Lag (2017:612) as an event engine"};
  app.require_subcommand(1);
  Commands commands;
  add_simulate_commands(app, commands);
  add_rules_commands(app, commands);
  add_run_command(app, commands);
  add_kafka_tool_commands(app, commands);
  add_demo_command(app, commands);
  add_hl7_commands(app, commands);
  add_token_command(app, commands);
  add_serve_command(app, commands);
  add_fhir_commands(app, commands);
  add_deliver_command(app, commands);
  add_whatif_command(app, commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  try {
    for (auto& [command, action] : commands) {
      if (command->parsed()) return action();
    }
  } catch (const CLI::ValidationError& e) {
    std::cerr << "samordna: " << e.what() << '\n';
    return kExitUsage;
  }
  return kExitUsage;
}

}  // namespace
}  // namespace samordna::app

// The thread root: nothing escapes it. Expected failures are values and map to exit statuses in the
// commands; anything thrown here is a bug, reported and turned into the failure status.
int main(int argc, char** argv) {
  try {
    return samordna::app::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "samordna: internal error: " << e.what() << '\n';
  } catch (...) {
    std::cerr << "samordna: internal error\n";
  }
  return samordna::app::kExitFailure;
}
