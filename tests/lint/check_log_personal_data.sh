#!/usr/bin/env bash
# Personal data never goes to logs (proto/samordna/v1/event.proto, message Patient). A heuristic
# grep, not a proof: it reads every log statement in our production code and fails, with file:line,
# when the statement's code (string literals removed) mentions a patient field.
#
#   bash tests/lint/check_log_personal_data.sh [ROOT]     ROOT defaults to the repo root
#
# A log statement starts at any of
#   spdlog::<level>(   spdlog::log(   SPDLOG_<LEVEL>(   SPDLOG_LOGGER_<LEVEL>(
#   <something with "log" in its name>-> or .<level>(    e.g. logger_->warn(, log.info(
#   std::cerr <<   std::clog <<
# and runs to the first ';' (so multi-line calls are read whole). It is flagged when, outside string
# literals, it mentions
#   personal_id            the personnummer / samordningsnummer field (any identifier containing it)
#   name() / address()     the Patient accessors (also any other type's name(): see below)
#   patient                the Patient message or an accessor returning it
#   DebugString / Utf8DebugString / ShortDebugString / MessageToJsonString
#                          whole-message dumps, which include the Patient of an event or notice
# Not caught: personal data passed through a variable with an innocent name, or formatted into a
# string before the log call. Review still matters; this catches the obvious slip.
#
# A false positive (a rule set's name(), say) is waived on its line with the comment
#   // log-pii-ok: <why this is not personal data>
# Scanned: engine/, rules/, connectors/ (*.h, *.cc). tests/ use synthetic data and are not scanned.
set -euo pipefail

root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
cd "$root"

mapfile -t files < <(find engine rules connectors -type f \
  \( -name '*.h' -o -name '*.hh' -o -name '*.hpp' -o -name '*.cc' -o -name '*.cpp' \) \
  2>/dev/null | LC_ALL=C sort)
((${#files[@]})) || { echo "check_log_personal_data: no sources under $root"; exit 0; }

# POSIX awk (Debian's default mawk): no \b, no \s.
awk '
  function strip_strings(s) {                 # drop "..." and 'c' contents, keep the quotes
    gsub(/\\./, "", s)                        # escapes first, so \" does not end a literal
    gsub(/"[^"]*"/, "\"\"", s)
    gsub(/'"'"'[^'"'"']*'"'"'/, "'"'"''"'"'", s)
    return s
  }
  function strip_comment(s) { sub(/\/\/.*$/, "", s); return s }
  function is_log_start(s) {
    return s ~ /spdlog::(trace|debug|info|warn|error|critical|log)[ \t]*\(/ ||
           s ~ /SPDLOG_(LOGGER_)?(TRACE|DEBUG|INFO|WARN|ERROR|CRITICAL)[ \t]*\(/ ||
           s ~ /[A-Za-z0-9_]*[Ll][Oo][Gg][A-Za-z0-9_]*[ \t]*(->|\.)[ \t]*(trace|debug|info|warn|error|critical|log)[ \t]*\(/ ||
           s ~ /std::(cerr|clog)[ \t]*<</
  }
  function offending(s) {
    if (s ~ /personal_id/) return "personal_id"
    if (s ~ /(^|[^A-Za-z0-9_])(name|address)[ \t]*\([ \t]*\)/) return "name()/address()"
    if (s ~ /(^|[^A-Za-z0-9_])(mutable_)?patient([^A-Za-z0-9_]|$)/) return "patient"
    if (s ~ /(Utf8|Short)?DebugString|MessageToJsonString/) return "a whole-message dump"
    return ""
  }
  FNR == 1 { in_stmt = 0 }
  {
    raw = $0
    code = strip_comment(strip_strings(raw))
    if (!in_stmt && is_log_start(code)) {
      in_stmt = 1; start = FNR; stmt = ""; waived = 0
    }
    if (in_stmt) {
      stmt = stmt " " code
      if (raw ~ /log-pii-ok:/) waived = 1
      if (code ~ /;/) {
        in_stmt = 0
        what = offending(stmt)
        if (what != "" && !waived) {
          printf "%s:%d: log statement mentions %s (personal data never goes to logs; waive a false positive with // log-pii-ok: <why>)\n", FILENAME, start, what
          bad++
        }
      }
    }
  }
  END {
    if (bad) { printf "check_log_personal_data: %d log statement(s) may log personal data\n", bad; exit 1 }
  }
' "${files[@]}"
echo "check_log_personal_data: ${#files[@]} files, no log statement mentions a patient field"
