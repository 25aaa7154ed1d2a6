#include "engine/pipeline/rules_in_use.h"

#include <string>
#include <vector>

#include "engine/store/episode_store.h"
#include "rules/digest.h"

namespace samordna::pipeline {

Result<void> check_rules_in_use(const store::Db& db, const rules::RuleBook& book) {
  SAMORDNA_TRY(in_flight, store::rule_sets_in_flight(db));
  std::vector<rules::RuleSetInUse> in_use;
  for (const auto& [key, count] : in_flight) in_use.push_back({key.first, key.second, count});
  const auto errors = rules::check_in_use(book, in_use);
  if (errors.empty()) return ok();
  std::string message;
  for (const auto& e : errors) {
    if (!message.empty()) message += '\n';
    message += e.file.empty() ? e.reason : rules::to_string(e);
  }
  return fail(Errc::kConflict, std::move(message));
}

}  // namespace samordna::pipeline
