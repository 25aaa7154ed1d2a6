// samordna rules check DIR: validates a rules directory; every problem with file, line and reason.

#include <iostream>

#include "engine/app/commands.h"

namespace samordna::app {

void add_rules_commands(CLI::App& app, Commands& commands) {
  auto* rules_cmd = app.add_subcommand("rules", "Rule files");
  rules_cmd->require_subcommand(1);
  auto* check = rules_cmd->add_subcommand("check", "Validate a rules directory");
  auto dir = std::make_shared<std::string>();
  check->add_option("dir", *dir, "Rules directory")->required();
  commands.emplace_back(check, [dir] {
    auto book = load_rules(*dir);
    if (!book) return kExitRejected;
    for (const auto& set : book->sets()) {
      std::cout << set.id << "  " << set.title << "  (" << set.source << ")\n";
    }
    std::cout << book->sets().size() << " rule set(s) OK\n";
    return kExitOk;
  });
}

}  // namespace samordna::app
