#pragma once

// The synthetic national year: care episodes with their Lag (2017:612) event sequences, written as
// samordna.v1.Event JSON lines (protobuf JSON mapping) in processing order (recordedAt, else
// occurredAt), non-decreasing across all episodes. Same options, same bytes. The distributions
// are described in tests/bench/README.md. Single-threaded; no shared state.

#include <chrono>
#include <cstdint>
#include <iosfwd>

namespace samordna::gen {

struct Options {
  std::uint64_t episodes = 1000;
  std::uint64_t seed = 1;
  // First local (Europe/Stockholm) day admissions fall on, and how many days they spread over.
  std::chrono::sys_days start = std::chrono::sys_days{std::chrono::year{2025} / 1 / 1};
  int days = 365;
  // Share of extra bad lines (malformed JSON, invalid personal id, unknown episode) after a good
  // line, for error-path demos. 0 writes only valid events.
  double emit_invalid = 0;
};

// What was written, and how often each path was taken (for the summary and the tests).
struct Stats {
  std::uint64_t episodes = 0;
  std::uint64_t events = 0;  // valid event lines
  std::uint64_t invalid_lines = 0;
  std::uint64_t bytes = 0;
  std::uint64_t max_pending_events = 0;  // peak size of the merge heap

  std::uint64_t psychiatric = 0;
  std::uint64_t samordningsnummer = 0;
  std::uint64_t no_needs = 0;
  std::uint64_t cancelled = 0;
  std::uint64_t late_assessment = 0;   // first needs assessment > 24 h after admission
  std::uint64_t needs_reassessed = 0;  // a second assessment added a need
  std::uint64_t estimate_changed = 0;  // at least one estimatedDischargeChanged
  std::uint64_t sip_required = 0;      // municipal and regional needs
  std::uint64_t sip_declined = 0;
  std::uint64_t sip_late = 0;   // invitation sent after DR + 3 days
  std::uint64_t sip_never = 0;  // required, consented, never sent
  std::uint64_t info_consent_missing = 0;
  std::uint64_t info_consent_late = 0;
  std::uint64_t care_contact_late = 0;  // appointed after discharge-ready
  std::uint64_t care_contact_never = 0;
  std::uint64_t revoked = 0;  // discharge-ready revoked and declared again
  std::uint64_t outpatient_unavailable = 0;
  std::uint64_t info_after_discharge_day = 0;
  std::uint64_t late_events = 0;  // recordedAt hours after occurredAt
};

// Writes the whole year to `out`, one event per line.
Stats generate(const Options& options, std::ostream& out);

}  // namespace samordna::gen
