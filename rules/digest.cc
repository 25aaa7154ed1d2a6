#include "rules/digest.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/check.h"

namespace samordna::rules {

std::string canonical_form(const RuleSet& set) {
  std::string out = "samordna-rule-set/1\n";
  auto line = [&out](const std::string& key, const std::string& value) {
    out += key;
    out += '=';
    out += value;
    out += '\n';
  };
  std::vector<std::string> regions = set.regions;
  std::sort(regions.begin(), regions.end());
  regions.erase(std::unique(regions.begin(), regions.end()), regions.end());
  std::string joined;
  for (const auto& r : regions) joined += (joined.empty() ? "" : ",") + r;
  line("regions", joined);
  line("careType", set.care_type ? v1::CareType_Name(*set.care_type) : "*");
  line("validFrom", format_date(set.valid_from));
  line("validTo", set.valid_to ? format_date(*set.valid_to) : "-");
  line("admissionNoticeWindowSeconds", std::to_string(set.admission_notice_window.count()));
  line("sipInvitationDays", std::to_string(set.sip_invitation_days));
  // Written only for the second model, so every per-patient set keeps the digest it had.
  if (set.liability.model == LiabilityModel::kMonthlyAverage) {
    line("liability.model", "monthly_average");
    line("liability.averageDaysTenths", std::to_string(set.liability.average_days_tenths));
  }
  line("liability.graceDays", std::to_string(set.liability.grace_days));
  line("liability.counting",
       set.liability.counting == DayCounting::kCalendar ? "calendar" : "working");
  line("liability.cutoffSeconds", std::to_string(set.liability.cutoff.count()));
  for (const auto& [year, rate] : set.liability.daily_rate_sek) {  // std::map: ascending
    line("liability.dailyRateSek." + std::to_string(year), std::to_string(rate));
  }
  std::vector<std::pair<std::string, long long>> reminders;
  for (const auto& [kind, lead] : set.reminder_lead) {
    reminders.emplace_back(v1::DeadlineKind_Name(kind), static_cast<long long>(lead.count()));
  }
  std::sort(reminders.begin(), reminders.end());
  for (const auto& [name, seconds] : reminders) line("reminder." + name, std::to_string(seconds));
  return out;
}

std::string content_digest(const RuleSet& set) {
  const std::string text = canonical_form(set);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  SAMORDNA_CHECK(EVP_Digest(text.data(), text.size(), md, &size, EVP_sha256(), nullptr) == 1,
                 "SHA-256 is always available");
  std::string hex = "sha256:";
  char two[3];
  for (unsigned int i = 0; i < size; ++i) {
    std::snprintf(two, sizeof two, "%02x", md[i]);
    hex += two;
  }
  return hex;
}

namespace {

// "sha256:0123abcd…": enough of a digest to tell two apart in a message.
std::string short_digest(const std::string& digest) {
  constexpr size_t kShown = 7 + 12;  // "sha256:" and 12 hex digits
  return digest.size() > kShown ? digest.substr(0, kShown) + "..." : digest;
}

}  // namespace

std::vector<RuleError> check_in_use(const RuleBook& book, const std::vector<RuleSetInUse>& in_use) {
  std::vector<RuleError> errors;
  for (const RuleSetInUse& use : in_use) {
    if (use.digest.empty()) continue;
    const std::string episodes = std::to_string(use.episodes) + " episode(s) in flight";
    const RuleSet* set = book.find(use.id);
    if (set == nullptr) {
      errors.push_back(RuleError{"", 0,
                                 "rule set " + use.id +
                                     " is no longer in the rules directory, but " + episodes +
                                     " started under it (digest " + short_digest(use.digest) +
                                     ") and keep it until they settle: put its file back"});
      continue;
    }
    if (set->digest == use.digest) continue;
    // RuleSet::source is "file:line"; RuleError wants them apart.
    RuleError e;
    const size_t colon = set->source.rfind(':');
    e.file = colon == std::string::npos ? set->source : set->source.substr(0, colon);
    e.line = colon == std::string::npos ? 0 : std::atoi(set->source.c_str() + colon + 1);
    e.reason = "rule set " + use.id + " has changed since " + episodes +
               " started under it (digest " + short_digest(use.digest) + " then, " +
               short_digest(set->digest) +
               " now); an episode keeps the rules in force when its clock started: give the "
               "new version a new id and a validFrom (and the old one a validTo), or put the "
               "old file back";
    errors.push_back(std::move(e));
  }
  return errors;
}

}  // namespace samordna::rules
