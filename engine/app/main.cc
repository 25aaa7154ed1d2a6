// The samordna executable: the only place that sees every module. Subcommands:
//   simulate     the engine on a virtual clock over a file of Event JSON lines
//   explain      why the engine decided what it did for one episode
//   rules check  validate a rules directory
// Exit status: 0 success; 1 input was rejected (all valid input was still processed); 2 usage or
// configuration error; 3 internal or I/O failure.

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>
#include <iostream>

#include "engine/app/simulator.h"
#include "engine/state/explain.h"
#include "rules/rule_set.h"

namespace {

using namespace samordna;

constexpr int kExitRejected = 1;
constexpr int kExitUsage = 2;
constexpr int kExitFailure = 3;

// Loads the rule book or prints every problem with file and line.
std::optional<rules::RuleBook> load_rules(const std::string& dir) {
  auto loaded = rules::load_rule_book(dir);
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) std::cerr << rules::to_string(e) << '\n';
    std::cerr << "samordna: " << loaded.errors.size() << " error(s) in rules directory " << dir << '\n';
    return std::nullopt;
  }
  return std::move(loaded.book);
}

std::optional<Instant> parse_until(const std::string& text) {
  if (text.empty()) return std::nullopt;
  auto t = parse_rfc3339(text);
  if (!t) throw CLI::ValidationError("--until", "expects an RFC 3339 time, e.g. 2025-03-10T00:00:00Z");
  return t.value();
}

struct SimulateArgs {
  std::string rules_dir = "rules/sets";
  std::string events;
  std::string until;
  std::string state_dir;
  std::string episode;
  bool stats = false;
};

int run_simulation(const SimulateArgs& args, bool explain_mode) {
  auto book = load_rules(args.rules_dir);
  if (!book) return kExitUsage;
  std::ifstream file;
  std::istream* in = &std::cin;
  if (args.events != "-") {
    file.open(args.events);
    if (!file) {
      std::cerr << "samordna: cannot read events file " << args.events << '\n';
      return kExitUsage;
    }
    in = &file;
  }
  std::ostringstream discard;
  std::ios::sync_with_stdio(false);
  app::Simulator sim(*book, explain_mode ? static_cast<std::ostream&>(discard) : std::cout,
                     explain_mode ? static_cast<std::ostream&>(discard) : std::cerr);
  app::SimulationOptions options;
  options.until = parse_until(args.until);
  if (!args.state_dir.empty()) options.state_dir = args.state_dir;
  auto stats = sim.run(*in, options);
  if (!stats) {
    std::cerr << "samordna: " << stats.error().message << '\n';
    return kExitFailure;
  }
  if (args.stats) {
    std::cerr << "lines=" << stats.value().lines << " applied=" << stats.value().applied
              << " duplicates=" << stats.value().duplicates << " rejected=" << stats.value().rejected
              << " timers_fired=" << stats.value().timers_fired
              << " notifications=" << stats.value().notifications << '\n';
  }
  if (explain_mode) {
    auto state = sim.episode(args.episode);
    if (!state) {
      std::cerr << "samordna: " << state.error().message << '\n';
      return kExitFailure;
    }
    if (!state.value().has_value()) {
      std::cerr << "samordna: no episode " << args.episode << " in " << args.events << '\n';
      return kExitUsage;
    }
    std::cout << state::explain(*state.value(), *book);
    return 0;
  }
  return stats.value().rejected > 0 ? kExitRejected : 0;
}

}  // namespace

int run(int argc, char** argv);

// The thread root: nothing escapes it. Expected failures are values and map to exit statuses in
// run(); anything thrown here is a bug, reported and turned into the failure status.
int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "samordna: internal error: " << e.what() << '\n';
  } catch (...) {
    std::cerr << "samordna: internal error\n";
  }
  return kExitFailure;
}

int run(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  CLI::App app{"samordna: discharge coordination under Lag (2017:612) as an event engine"};
  app.require_subcommand(1);

  SimulateArgs sim;
  auto* simulate = app.add_subcommand("simulate", "Run the engine on a virtual clock over Event JSON lines");
  simulate->add_option("--rules", sim.rules_dir, "Rules directory")->capture_default_str();
  simulate->add_option("--events", sim.events, "Event JSON lines ('-' for stdin)")->required();
  simulate->add_option("--until", sim.until, "Fire timers up to this RFC 3339 time at the end");
  simulate->add_option("--state-dir", sim.state_dir, "Keep state on disk here (default: in memory)");
  simulate->add_flag("--stats", sim.stats, "Print counts to stderr at the end");

  SimulateArgs exp;
  auto* explain = app.add_subcommand("explain", "Show each deadline of one episode: rule, anchor, arithmetic, outcome");
  explain->add_option("--rules", exp.rules_dir, "Rules directory")->capture_default_str();
  explain->add_option("--events", exp.events, "Event JSON lines")->required();
  explain->add_option("--episode", exp.episode, "Episode id")->required();
  explain->add_option("--until", exp.until, "Fire timers up to this RFC 3339 time at the end");

  std::string check_dir;
  auto* rules_cmd = app.add_subcommand("rules", "Rule files");
  rules_cmd->require_subcommand(1);
  auto* check = rules_cmd->add_subcommand("check", "Validate a rules directory");
  check->add_option("dir", check_dir, "Rules directory")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  try {
    if (*simulate) return run_simulation(sim, false);
    if (*explain) return run_simulation(exp, true);
    if (*check) {
      auto book = load_rules(check_dir);
      if (!book) return kExitRejected;
      for (const auto& set : book->sets()) {
        std::cout << set.id << "  " << set.title << "  (" << set.source << ")\n";
      }
      std::cout << book->sets().size() << " rule set(s) OK\n";
      return 0;
    }
  } catch (const CLI::ValidationError& e) {
    std::cerr << "samordna: " << e.what() << '\n';
    return kExitUsage;
  }
  return kExitUsage;
}
