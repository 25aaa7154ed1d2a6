// samordna_gen: writes a synthetic national year of samordna.v1.Event JSON lines.
// Usage and distributions: tests/bench/README.md.

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "tests/bench/generator/generator.h"

namespace {

// Strict YYYY-MM-DD.
bool parse_date(const std::string& text, std::chrono::sys_days& out) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (std::size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u}) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  const std::chrono::year_month_day ymd{
      std::chrono::year{std::stoi(text.substr(0, 4))},
      std::chrono::month{static_cast<unsigned>(std::stoi(text.substr(5, 2)))},
      std::chrono::day{static_cast<unsigned>(std::stoi(text.substr(8, 2)))}};
  if (!ymd.ok()) return false;
  out = std::chrono::sys_days{ymd};
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  samordna::gen::Options options;
  std::string start = "2025-01-01";
  std::string out_path;
  bool quiet = false;

  CLI::App app{
      "Writes a synthetic national year of care episodes as samordna.v1.Event JSON lines, "
      "ordered by processing time (recordedAt, else occurredAt)."};
  app.add_option("--episodes", options.episodes, "number of care episodes")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{99'999'999}));
  app.add_option("--seed", options.seed, "random seed; the same seed gives the same bytes")
      ->capture_default_str();
  app.add_option("--start", start, "first day of admissions, YYYY-MM-DD (Swedish local date)")
      ->capture_default_str();
  app.add_option("--days", options.days, "days the admissions spread over")
      ->capture_default_str()
      ->check(CLI::Range(1, 36'500));
  app.add_option("--emit-invalid", options.emit_invalid,
                 "share of extra bad lines (malformed JSON, invalid personal id, unknown episode)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--out", out_path, "output file (default: standard output)");
  app.add_flag("--quiet", quiet, "no summary on standard error");
  CLI11_PARSE(app, argc, argv);

  if (!parse_date(start, options.start)) {
    std::cerr << "samordna_gen: --start must be a date YYYY-MM-DD\n";
    return 2;
  }

  std::ios::sync_with_stdio(false);
  std::unique_ptr<std::ofstream> file;
  std::ostream* out = &std::cout;
  if (!out_path.empty()) {
    file = std::make_unique<std::ofstream>(out_path, std::ios::binary | std::ios::trunc);
    if (!*file) {
      std::cerr << "samordna_gen: cannot open " << out_path << " for writing\n";
      return 1;
    }
    out = file.get();
  }

  const auto began = std::chrono::steady_clock::now();
  const samordna::gen::Stats s = samordna::gen::generate(options, *out);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  if (!*out) {
    std::cerr << "samordna_gen: write failed\n";
    return 1;
  }

  if (!quiet) {
    const auto pct = [&](std::uint64_t n, std::uint64_t of) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%.1f%%",
                    of == 0 ? 0.0 : 100.0 * static_cast<double>(n) / static_cast<double>(of));
      return std::string(buf);
    };
    const std::uint64_t e = s.episodes;
    std::ostringstream m;
    m << "samordna_gen: " << e << " episodes, " << s.events << " events, " << s.invalid_lines
      << " invalid lines, " << s.bytes << " bytes in " << secs << " s (peak "
      << s.max_pending_events << " pending events)\n"
      << "  psychiatric " << pct(s.psychiatric, e) << ", samordningsnummer "
      << pct(s.samordningsnummer, e) << ", no needs " << pct(s.no_needs, e) << ", cancelled "
      << pct(s.cancelled, e) << ", late assessment " << pct(s.late_assessment, e) << ", reassessed "
      << pct(s.needs_reassessed, e) << ", estimate changed " << pct(s.estimate_changed, e) << "\n"
      << "  SIP required " << pct(s.sip_required, e) << " (declined " << s.sip_declined << ", late "
      << s.sip_late << ", never " << s.sip_never << "), information consent missing "
      << pct(s.info_consent_missing, e) << " / late " << pct(s.info_consent_late, e) << "\n"
      << "  care contact late " << pct(s.care_contact_late, e) << " / never "
      << pct(s.care_contact_never, e) << ", discharge-ready revoked " << pct(s.revoked, e)
      << ", outpatient services unavailable " << pct(s.outpatient_unavailable, e)
      << ", information after discharge day " << pct(s.info_after_discharge_day, e)
      << ", late-recorded events " << pct(s.late_events, s.events) << "\n";
    std::cerr << m.str();
  }
  return 0;
}
