// samordna whatif: one history replayed under two rule books, compared per municipality and month
// (engine/app/whatif.h; README, "whatif").

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/app/commands.h"
#include "engine/app/whatif.h"

namespace samordna::app {
namespace {

struct WhatifArgs {
  std::string events;
  std::vector<std::string> rules;
  std::string from;
  std::string until;
  std::string csv;
  std::string json;
  int progress_seconds = 5;
};

// Opens an output file before the replays, so a bad path fails in a second, not after an hour.
bool open_output(std::ofstream& out, const std::string& path, const char* what) {
  if (path.empty()) return true;
  out.open(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    std::cerr << "samordna: cannot write the " << what << " file " << path << '\n';
    return false;
  }
  return true;
}

bool write_output(std::ofstream& out, const std::string& path, const std::string& text,
                  const char* what) {
  if (path.empty()) return true;
  out << text;
  out.flush();
  if (!out) {
    std::cerr << "samordna: cannot write the " << what << " file " << path << '\n';
    return false;
  }
  return true;
}

int run_whatif(const WhatifArgs& args) {
  if (args.rules.size() != 2) {
    std::cerr << "samordna: whatif compares two rule directories: give --rules twice (got "
              << args.rules.size() << ")\n";
    return kExitUsage;
  }
  if (args.events == "-") {
    std::cerr << "samordna: whatif reads the events twice, once per rule directory: give a file, "
                 "not '-'\n";
    return kExitUsage;
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(args.events, ec)) {
    std::cerr << "samordna: events file " << args.events
              << (std::filesystem::exists(args.events, ec) ? " is not a regular file"
                                                           : " does not exist")
              << "; expected a file of Event JSON lines\n";
    return kExitUsage;
  }
  whatif::Range range;
  range.from = parse_time_option("--from", args.from);
  range.until = parse_time_option("--until", args.until);
  if (range.from && range.until && *range.until <= *range.from) {
    std::cerr << "samordna: --until must be later than --from\n";
    return kExitUsage;
  }
  std::optional<rules::RuleBook> books[2];
  for (int i = 0; i < 2; ++i) {
    books[i] = load_rules(args.rules[static_cast<size_t>(i)]);
    if (!books[i]) return kExitUsage;
  }
  std::ofstream csv;
  std::ofstream json;
  if (!open_output(csv, args.csv, "CSV") || !open_output(json, args.json, "JSON")) {
    return kExitUsage;
  }

  // The two replays are independent: one thread each (one per core on this machine).
  whatif::Progress progress[2];
  std::optional<Result<whatif::Side>> sides[2];
  auto side = [&](int i) {
    // A thread root: nothing escapes it. Expected failures come back as values; anything thrown
    // is a bug and ends the process as main's root would.
    try {
      sides[i] = whatif::replay(args.events, *books[i], range, range.until, progress[i]);
    } catch (const std::exception& e) {
      std::cerr << "samordna: internal error in replay " << (i == 0 ? 'A' : 'B') << ": " << e.what()
                << '\n';
      std::abort();
    }
  };
  std::thread b_thread(side, 1);
  std::thread watcher;
  std::mutex mutex;
  std::condition_variable wake;
  bool finished = false;
  const uint64_t size = std::filesystem::file_size(args.events, ec);
  if (args.progress_seconds > 0 && size > 0) {
    watcher = std::thread([&] {
      std::unique_lock lock(mutex);
      while (!wake.wait_for(lock, std::chrono::seconds{args.progress_seconds},
                            [&] { return finished; })) {
        auto pct = [&](int i) {
          return progress[i].done ? 100 : static_cast<int>(progress[i].bytes_read * 100 / size);
        };
        std::cerr << "whatif: A " << pct(0) << "%, B " << pct(1) << "% of " << args.events
                  << " replayed" << std::endl;
      }
    });
  }
  side(0);
  b_thread.join();
  {
    std::lock_guard lock(mutex);
    finished = true;
  }
  wake.notify_all();
  if (watcher.joinable()) watcher.join();

  for (int i = 0; i < 2; ++i) {
    if (!sides[i]->has_value()) {
      std::cerr << "samordna: replay under " << args.rules[static_cast<size_t>(i)] << ": "
                << sides[i]->error().message << '\n';
      return kExitFailure;
    }
  }
  const whatif::Side& a = sides[0]->value();
  const whatif::Side& b = sides[1]->value();
  const auto rows = whatif::compare(a.sheet, b.sheet);
  const whatif::Labels labels{args.rules[0], args.rules[1], range};
  std::cout << whatif::format_table(rows, labels);
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "samordna: cannot write the table\n";
    return kExitFailure;
  }
  if (!write_output(csv, args.csv, whatif::format_csv(rows), "CSV") ||
      !write_output(json, args.json, whatif::format_json(rows, labels), "JSON")) {
    return kExitFailure;
  }
  for (int i = 0; i < 2; ++i) {
    const whatif::Side& s = i == 0 ? a : b;
    std::cerr << "whatif: " << (i == 0 ? 'A' : 'B') << ": " << s.stats.lines << " lines, "
              << s.episodes << " episodes, " << s.settled << " settled";
    if (s.stats.rejected > 0) {
      std::cerr << ", " << s.stats.rejected
                << " lines rejected (`samordna simulate` lists them with their reasons)";
    }
    std::cerr << '\n';
  }
  return a.stats.rejected + b.stats.rejected > 0 ? kExitRejected : kExitOk;
}

}  // namespace

void add_whatif_command(CLI::App& app, Commands& commands) {
  auto args = std::make_shared<WhatifArgs>();
  auto* cmd = app.add_subcommand(
      "whatif",
      "Replay one history under two rule directories; liable days, amounts and missed deadlines "
      "per municipality and month under each, and the difference");
  cmd->add_option("--events", args->events, "Event JSON lines (a file)")->required();
  cmd->add_option("--rules", args->rules, "Rules directory A, then B (give it twice)")
      ->required()
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--from", args->from, "Report facts from this RFC 3339 time on");
  cmd->add_option("--until", args->until,
                  "Report facts before this RFC 3339 time; timers fire up to it at the end");
  cmd->add_option("--csv", args->csv, "Write the comparison as CSV here");
  cmd->add_option("--json", args->json, "Write the comparison as JSON here");
  cmd->add_option("--progress-seconds", args->progress_seconds,
                  "Seconds between progress lines on stderr (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  commands.emplace_back(cmd, [args] { return run_whatif(*args); });
}

}  // namespace samordna::app
