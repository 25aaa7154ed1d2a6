// samordna rules check DIR [--state-dir D] [--canonical]: validates a rules directory; every
// problem with file, line and reason. With a state dir, also that every rule set its episodes in
// flight were started under is still there unchanged (rules/README.md, "Rules pinned by content").

#include <filesystem>
#include <iostream>

#include "engine/app/commands.h"
#include "engine/pipeline/rules_in_use.h"
#include "engine/store/db.h"
#include "rules/digest.h"

namespace samordna::app {
namespace {

struct CheckArgs {
  std::string dir;
  std::string state_dir;
  bool canonical = false;
};

int run_check(const CheckArgs& args) {
  auto book = load_rules(args.dir);
  if (!book) return kExitRejected;
  for (const auto& set : book->sets()) {
    if (args.canonical) {
      std::cout << "# " << set.id << "  (" << set.source << ")  " << set.digest << '\n'
                << rules::canonical_form(set);
      continue;
    }
    std::cout << set.id << "  " << set.title << "  (" << set.source << ")  " << set.digest << '\n';
  }
  if (args.state_dir.empty()) {
    std::cout << book->sets().size() << " rule set(s) OK\n";
    return kExitOk;
  }
  // Never create a state dir here: a mistyped path must not pass as "no episodes".
  if (!std::filesystem::is_directory(args.state_dir)) {
    std::cerr << "samordna: state dir " << args.state_dir << " does not exist\n";
    return kExitUsage;
  }
  auto db = store::Db::open(args.state_dir, store::DbOptions{});
  if (!db) {
    std::cerr << "samordna: " << db.error().message << '\n';
    return kExitFailure;
  }
  if (auto checked = pipeline::check_rules_in_use(*db.value(), *book); !checked) {
    if (checked.error().code != Errc::kConflict) {
      std::cerr << "samordna: " << checked.error().message << '\n';
      return kExitFailure;
    }
    std::cerr << checked.error().message << '\n';
    return kExitRejected;
  }
  std::cout << book->sets().size() << " rule set(s) OK, also for the episodes in flight in "
            << args.state_dir << '\n';
  return kExitOk;
}

}  // namespace

void add_rules_commands(CLI::App& app, Commands& commands) {
  auto* rules_cmd = app.add_subcommand("rules", "Rule files");
  rules_cmd->require_subcommand(1);
  auto* check = rules_cmd->add_subcommand("check", "Validate a rules directory");
  auto args = std::make_shared<CheckArgs>();
  check->add_option("dir", args->dir, "Rules directory")->required();
  check->add_option("--state-dir", args->state_dir,
                    "Also check that the rule sets of this state dir's episodes in flight are "
                    "there unchanged (refused otherwise)");
  check->add_flag("--canonical", args->canonical,
                  "Print each set's canonical form, the text its digest is the SHA-256 of");
  commands.emplace_back(check, [args] { return run_check(*args); });
}

}  // namespace samordna::app
