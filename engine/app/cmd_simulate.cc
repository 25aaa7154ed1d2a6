// samordna simulate / explain: the engine on a virtual clock over Event JSON lines.

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "engine/app/commands.h"
#include "engine/app/simulator.h"
#include "engine/state/explain.h"

namespace samordna::app {
namespace {

struct SimulateArgs {
  std::string rules_dir = "rules/sets";
  std::string events;
  std::string until;
  std::string state_dir;
  std::string episode;
  std::string episodes_file;
  int retention_days = 30;
  int partitions = 1;
  int memtable_mib = 1024;
  bool no_wal = false;
  bool stats = false;
};

int run_simulation(const SimulateArgs& args, bool explain_mode) {
  auto book = load_rules(args.rules_dir);
  if (!book) return kExitUsage;
  std::ifstream file;
  std::istream* in = &std::cin;
  if (args.events != "-") {
    // An ifstream opens a directory without complaint and reads nothing: the run would end with
    // exit 0 and no notifications, as if the feed were empty.
    if (std::error_code ec; std::filesystem::is_directory(args.events, ec)) {
      std::cerr << "samordna: events file " << args.events
                << " is a directory; expected a file of Event JSON lines\n";
      return kExitUsage;
    }
    file.open(args.events);
    if (!file) {
      std::cerr << "samordna: cannot read events file " << args.events << '\n';
      return kExitUsage;
    }
    in = &file;
  }
  std::ostringstream discard;
  std::ios::sync_with_stdio(false);
  Simulator sim(*book, explain_mode ? static_cast<std::ostream&>(discard) : std::cout,
                explain_mode ? static_cast<std::ostream&>(discard) : std::cerr);
  SimulationOptions options;
  options.until = parse_time_option("--until", args.until);
  if (!args.state_dir.empty()) options.state_dir = args.state_dir;
  options.partitions = args.partitions;
  options.write_ahead_log = !args.no_wal;
  options.memtable_bytes = static_cast<size_t>(args.memtable_mib) << 20;
  // explain reads the episode's final state: it must still be there.
  options.retention = explain_mode ? std::chrono::seconds{0}
                                   : std::chrono::seconds{std::chrono::hours{24}} *
                                         static_cast<int64_t>(args.retention_days);
  std::ofstream episodes;
  if (!args.episodes_file.empty()) {
    episodes.open(args.episodes_file, std::ios::binary | std::ios::trunc);
    if (!episodes) {
      std::cerr << "samordna: cannot write episodes file " << args.episodes_file << '\n';
      return kExitUsage;
    }
    options.episodes = &episodes;
  }
  auto stats = sim.run(*in, options);
  if (!stats) {
    std::cerr << "samordna: " << stats.error().message << '\n';
    // A state dir whose episodes were started under rules that have changed since: fix the rules.
    return stats.error().code == Errc::kConflict ? kExitUsage : kExitFailure;
  }
  const SimulationStats& s = stats.value();
  if (args.stats) {
    std::cerr << "lines=" << s.lines << " applied=" << s.applied << " duplicates=" << s.duplicates
              << " rejected=" << s.rejected << " timers_fired=" << s.timers_fired
              << " notifications=" << s.notifications << " retired=" << s.retired
              << " spills=" << s.spills << '\n';
  }
  if (!explain_mode) return s.rejected > 0 ? kExitRejected : kExitOk;

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
  return kExitOk;
}

}  // namespace

void add_simulate_commands(CLI::App& app, Commands& commands) {
  auto sim = std::make_shared<SimulateArgs>();
  auto* simulate =
      app.add_subcommand("simulate", "Run the engine on a virtual clock over Event JSON lines");
  simulate->add_option("--rules", sim->rules_dir, "Rules directory")->capture_default_str();
  simulate->add_option("--events", sim->events, "Event JSON lines ('-' for stdin)")->required();
  simulate->add_option("--until", sim->until, "Fire timers up to this RFC 3339 time at the end");
  simulate->add_option("--state-dir", sim->state_dir,
                       "Keep state on disk here (default: in memory)");
  simulate->add_option(
      "--episodes", sim->episodes_file,
      "Write the final EpisodeView of every episode still held as JSON lines here");
  simulate
      ->add_option("--retention-days", sim->retention_days,
                   "Days a settled episode stays in the state before it is removed (0: keep)")
      ->capture_default_str()
      ->check(CLI::Range(0, 36500));
  simulate->add_flag("--stats", sim->stats, "Print counts to stderr at the end");
  simulate
      ->add_option("--partitions", sim->partitions,
                   "Split the episodes over N partitions, each on its own thread, as Kafka splits "
                   "a topic (default 1)")
      ->check(CLI::Range(1, 64));
  simulate->add_flag("--no-wal", sim->no_wal,
                     "A bulk replay: no RocksDB write-ahead log, and episodes and timers held in "
                     "memory, written to the state dir in spills (after a crash, replay the feed "
                     "into a fresh state dir)");
  simulate
      ->add_option("--memtable-mib", sim->memtable_mib,
                   "RocksDB memtable budget in MiB, shared by the partitions: larger replays "
                   "faster, memory is taken as the memtables fill; with --no-wal also the room "
                   "for held episodes, about 4 KiB each")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  commands.emplace_back(simulate, [sim] { return run_simulation(*sim, false); });

  auto exp = std::make_shared<SimulateArgs>();
  auto* explain = app.add_subcommand(
      "explain", "Show each deadline of one episode: rule, anchor, arithmetic, outcome");
  explain->add_option("--rules", exp->rules_dir, "Rules directory")->capture_default_str();
  explain->add_option("--events", exp->events, "Event JSON lines")->required();
  explain->add_option("--episode", exp->episode, "Episode id")->required();
  explain->add_option("--until", exp->until, "Fire timers up to this RFC 3339 time at the end");
  commands.emplace_back(explain, [exp] { return run_simulation(*exp, true); });
}

}  // namespace samordna::app
