#include "rules/rule_set.h"

#include <algorithm>
#include <utility>

#include "rules/digest.h"

namespace samordna::rules {

bool RuleSet::in_force_on(LocalDate d) const {
  return d >= valid_from && (!valid_to || d <= *valid_to);
}

bool RuleSet::applies_to(std::string_view region, v1::CareType care) const {
  const bool region_ok =
      regions.empty() || std::find(regions.begin(), regions.end(), region) != regions.end();
  return region_ok && (!care_type || *care_type == care);
}

RuleBook::RuleBook(std::vector<RuleSet> sets) : sets_(std::move(sets)) {
  for (RuleSet& s : sets_) s.digest = content_digest(s);
}

namespace {

// Higher is more specific. The region dominates: a regional agreement replaces the statutory
// default for that region even where the default has a care-type exception.
int specificity(const RuleSet& s) { return (s.regions.empty() ? 0 : 2) + (s.care_type ? 1 : 0); }

}  // namespace

const RuleSet* RuleBook::select(std::string_view region, v1::CareType care_type,
                                LocalDate on) const {
  const RuleSet* best = nullptr;
  for (const RuleSet& s : sets_) {
    if (!s.in_force_on(on) || !s.applies_to(region, care_type)) continue;
    // Strictly greater: on a tie (which load_rule_book rejects) the first set wins.
    if (best == nullptr || specificity(s) > specificity(*best)) best = &s;
  }
  return best;
}

const RuleSet* RuleBook::find(std::string_view id) const {
  for (const RuleSet& s : sets_) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

std::string to_string(const RuleError& e) {
  return e.file + ":" + std::to_string(e.line) + ": " + e.reason;
}

}  // namespace samordna::rules
